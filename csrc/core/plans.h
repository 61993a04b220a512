// Plans: which rotations, how many levels. The one source of these rules for
// the kernels (linear.cc, rotate.cc, poly.cc, block_dense.cc), the C++
// baseline harness (csrc/bench/workload.cc) and Python (he_tf._core: the
// Galois keys a model needs, the packing cost model).
#pragma once

#include <cstddef>
#include <vector>

namespace he_tf {

// The diagonal method for an [in, out] matrix on a packed vector of `in`
// values: x is replicated cyclically by doubling (`copies`, rounded up to a
// power of two, over in + out - 1 slots), then baby-step/giant-step with
// `baby` = ceil(sqrt(in)) baby steps and `giants` giant steps.
struct DiagonalPlan {
  std::size_t in = 0, out = 0, copies = 1, baby = 1, giants = 1;
  // Left rotations in the order Apply performs them: replication (negative), baby steps, giant steps.
  std::vector<int> Rotations() const;
};
// Throws std::invalid_argument if the replicated vector does not fit `slots`.
DiagonalPlan PlanDiagonal(std::size_t in, std::size_t out, std::size_t slots);

// Rotate-and-add over the first n slots: left rotations by halving powers of two.
std::vector<int> SumSlotsRotations(std::size_t n);

// A rotation by `steps` without its own Galois key: the signed powers of two
// of the non-adjacent form of the shorter direction, each in (-slots/2, slots/2].
std::vector<int> NafRotations(int steps, int slots);
// `steps` normalized to (-slots/2, slots/2].
int NormalizeRotation(int steps, int slots);

// Levels a polynomial of `degree` takes: powers by squaring (x^i at depth ceil(log2 i)), one rescale.
int PolyDepth(std::size_t degree);

// Levels every product with a plaintext or a ciphertext takes (it is rescaled once).
inline constexpr int kProductLevels = 1;

// The left rotations a block dense layer uses (block_dense.h): shift s * samples for every nonzero
// block shift s between an input block and an output block. Throws unless blocks * samples <= slots.
std::vector<int> BlockDenseRotations(std::size_t slots, std::size_t samples, std::size_t blocks,
                                     std::size_t outputs);

}  // namespace he_tf
