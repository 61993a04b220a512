// A dense layer on samples packed in blocks side by side in the slots.
//
// Block layout: a request of `samples` samples and F features is sent as
// `cts` ciphertexts; ciphertext j holds `blocks` blocks of `samples` slots,
// block k holding feature j * blocks + k of every sample (features past F
// are zero). With blocks = floor(slots / samples) a request needs
// ceil(F / blocks) ciphertexts instead of F.
//
// The result packs the outputs the same way: per = floor(slots / samples)
// output blocks per ciphertext, output o in block o % per of ciphertext
// o / per, every other slot zero (no partial sum is ever left in a slot).
#pragma once

#include <cstddef>
#include <vector>

#include "public_context.h"
#include "seal/ciphertext.h"
#include "seal/plaintext.h"

namespace he_tf {

// x @ weights + bias for x in block layout, weights [cts * blocks, outputs]
// row-major (rows past the features zero), bias [outputs]. For each output
// ciphertext and block shift s, the products of every input ciphertext with
// the weights of the blocks that shift by s are accumulated unrescaled, then
// rotated left by s * samples (before the rescale, so that the key switch's
// noise is divided by the dropped prime), then summed and rescaled once: one
// level, scale unchanged, one rotation per nonzero shift. Plaintexts are encoded once, here.
// `imaginary_samples` > 0: every slot holds two samples, in its real and
// imaginary parts (real weights, sums and rotations act on both alike); the
// bias is added to the real parts of each output block and to the imaginary
// parts of its first `imaginary_samples` slots (those that hold samples), so
// every other part of every slot stays zero.
class BlockDense {
 public:
  BlockDense(const PublicContext& ctx, const double* weights, const double* bias, std::size_t cts,
             std::size_t blocks, std::size_t samples, std::size_t outputs, int level, double scale,
             std::size_t imaginary_samples = 0);

  std::size_t output_ciphertexts() const { return groups_.size(); }
  // The terms of output ciphertext r: (shift, products) groups, parallel over groups.
  std::size_t shifts(std::size_t r) const { return groups_[r].size(); }
  // The group (r, g): sum_j x[j] * plaintext, rotated into place, not rescaled.
  seal::Ciphertext Term(const std::vector<const seal::Ciphertext*>& x, std::size_t r, std::size_t g) const;
  // Terms of output ciphertext r summed and rescaled, plus the bias.
  seal::Ciphertext Finish(std::vector<seal::Ciphertext> terms, std::size_t r) const;

 private:
  struct Group {
    int shift;                              // left rotation, in slots
    std::vector<std::size_t> inputs;        // input ciphertexts with a nonzero plaintext
    std::vector<seal::Plaintext> weights;   // one per entry of `inputs`
  };
  const PublicContext& ctx_;
  std::size_t cts_;
  int level_;
  double scale_, prime_;
  std::vector<std::vector<Group>> groups_;  // per output ciphertext
  std::vector<seal::Plaintext> bias_;       // per output ciphertext, at the result's level and scale
};

}  // namespace he_tf
