// CKKS encoding and decoding of fixed-point values without double rounding.
//
// Converting between ciphertexts and secret shares adds statistical masks
// of 2^60 and more to values that must stay exact to 2^-16: far beyond what
// SEAL's double-precision encoder resolves. These functions compute the
// canonical embedding in quad precision and reduce coefficients modulo each
// prime exactly. Slot i is the polynomial evaluated at zeta^(3^i mod 2N), as
// in SEAL's CKKSEncoder, so both encoders agree on ordinary values.
#pragma once

#include <cstddef>
#include <cstdint>

#include "seal/context.h"
#include "seal/plaintext.h"

namespace he_tf {

// Encodes values[0..n) (signed fixed point: value = v / 2^fraction_bits; the
// other slots zero) at `parms_id` and `scale`, in NTT form. Throws
// std::invalid_argument if a coefficient would not fit that level's modulus.
seal::Plaintext EncodeFixedPoint(const seal::SEALContext& context, const std::int64_t* values, std::size_t n,
                                 int fraction_bits, seal::parms_id_type parms_id, double scale);

// Decodes the first n slots of `plain` (NTT form) to round(value * 2^fraction_bits) mod 2^64.
void DecodeFixedPoint(const seal::SEALContext& context, const seal::Plaintext& plain, int fraction_bits,
                      std::int64_t* out, std::size_t n);

}  // namespace he_tf
