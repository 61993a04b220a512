// Polynomial evaluation on ciphertexts at minimal multiplicative depth.
#pragma once

#include <cstddef>
#include <vector>

#include "plans.h"  // PolyDepth
#include "public_context.h"
#include "seal/ciphertext.h"

namespace he_tf {

// PolyEval consumes PolyDepth(degree) levels (plans.h): ceil(log2(degree)) + 1.

// sum_i coeffs[i] * a^i. Powers are built by squaring and products of powers
// of two (x^i at depth ceil(log2 i)); each term is scaled by its coefficient
// encoded at the scale that brings all terms to a's scale exactly, then one
// rescale. The constant term goes into the first `num_values` slots only, so
// unused slots stay zero. Result: level(a) - PolyDepth(degree), scale of a.
seal::Ciphertext PolyEval(const PublicContext& ctx, const seal::Ciphertext& a, const std::vector<double>& coeffs,
                          std::size_t num_values);

}  // namespace he_tf
