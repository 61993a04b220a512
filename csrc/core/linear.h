// Products of ciphertexts with plaintext matrices.
#pragma once

#include <cstddef>
#include <vector>

#include "public_context.h"
#include "seal/ciphertext.h"
#include "seal/plaintext.h"

namespace he_tf {

// sum_i cts[i] * weights[i * stride], rescaled once (scale unchanged). For a
// contraction over an axis that is not packed into slots: no rotations. Zero
// weights are skipped (the cost is the non-zeros').
seal::Ciphertext DotWithConstants(const PublicContext& ctx, const std::vector<const seal::Ciphertext*>& cts,
                                  const double* weights, std::size_t stride);

// x @ W for x packed in the slots of one ciphertext (length `in`), W of shape
// [in, out] row-major: the diagonal method with baby-step/giant-step
// rotations. The result holds `out` values in its first slots, zeros after.
// Plaintext diagonals are encoded once, at the level given, and reused.
class DiagonalMatMul {
 public:
  DiagonalMatMul(const PublicContext& ctx, const double* weights, std::size_t in, std::size_t out, int level);
  seal::Ciphertext Apply(const seal::Ciphertext& x) const;

 private:
  const PublicContext& ctx_;
  std::size_t in_, out_, copies_, baby_;
  std::vector<seal::Plaintext> diagonals_;  // index giant * baby_ + b, pre-rotated
  std::vector<bool> nonzero_;
};

}  // namespace he_tf
