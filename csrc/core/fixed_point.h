// Ciphertexts <-> fixed-point ring values (Z_2^64), the bridge between CKKS
// and secret sharing. Values are signed fixed point, value = v / 2^fraction_bits,
// and cross the bridge exactly (see exact_encoding.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "public_context.h"
#include "secret_key.h"
#include "seal/ciphertext.h"

namespace he_tf {

// Adds values[0..n) to the first n slots of `ct` at its level and scale. With
// flood_bits > 0 it also adds a polynomial with coefficients uniform in
// [-2^flood_bits, 2^flood_bits], hiding the evaluator's noise from the decryptor.
void AddFixedPoint(const PublicContext& ctx, seal::Ciphertext& ct, const std::int64_t* values, std::size_t n,
                   int fraction_bits, int flood_bits);

// Encrypts values[0..n) at the top level with the public key.
seal::Ciphertext EncryptFixedPoint(const PublicContext& ctx, const std::int64_t* values, std::size_t n,
                                   int fraction_bits);

// Decrypts the first n slots to round(value * 2^fraction_bits) mod 2^64.
void DecryptFixedPoint(const PublicContext& ctx, const SecretKey& sk, const seal::Ciphertext& ct, int fraction_bits,
                       std::int64_t* out, std::size_t n);

// Fills out[0..n) with integers uniform over all of Z_2^64 from SEAL's
// cryptographic PRNG (Blake2xb seeded by the operating system).
void SecureRandom(std::int64_t* out, std::size_t n);

}  // namespace he_tf
