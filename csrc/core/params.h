// CKKS encryption parameters and the rules that make them usable and secure.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "seal/encryptionparams.h"

namespace he_tf {

struct CkksParams {
  std::size_t poly_modulus_degree = 8192;
  std::vector<int> coeff_mod_bit_sizes = {60, 40, 40, 60};
  int scale_bits = 40;

  // Throws std::invalid_argument naming the broken rule and what would fit.
  void Validate() const;

  seal::EncryptionParameters ToSeal() const;
  std::size_t slot_count() const { return poly_modulus_degree / 2; }
  // Rescales available to a fresh ciphertext (primes between first and special).
  int depth() const { return static_cast<int>(coeff_mod_bit_sizes.size()) - 2; }
  std::string ToString() const;
};

// Largest total coefficient modulus bit count that keeps 128-bit security
// (HomomorphicEncryption.org standard, ternary secret); 0 if N is unsupported.
int MaxCoeffModulusBits(std::size_t poly_modulus_degree);

}  // namespace he_tf
