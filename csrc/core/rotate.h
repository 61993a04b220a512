// Slot rotations and sums over slots.
#pragma once

#include <cstddef>
#include <vector>

#include "public_context.h"
#include "seal/ciphertext.h"

namespace he_tf {

// Rotates slots left by `steps` (negative: right), cyclically over all
// slots. Uses the Galois key for `steps` if present, otherwise composes
// rotations by the signed powers of two of its non-adjacent form. Throws,
// naming the missing key, if neither is available.
seal::Ciphertext Rotate(const PublicContext& ctx, const seal::Ciphertext& a, int steps);

// Slot 0 of the result holds the sum of slots [0, n) of `a`, every other slot
// zero. Rotate-and-add leaves partial sums in the other slots, so for n > 1
// the sum is multiplied by a 0/1 mask (1 in slot 0) and rescaled: one level,
// scale unchanged. For n == 1 it returns `a` (its other slots are zero by the
// packing invariant). Needs slots [n, next power of two >= n) to be zero.
seal::Ciphertext SumSlots(const PublicContext& ctx, const seal::Ciphertext& a, std::size_t n);

}  // namespace he_tf
