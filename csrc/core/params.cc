#include "params.h"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "seal/modulus.h"

namespace he_tf {

int MaxCoeffModulusBits(std::size_t n) {
  switch (n) {
    case 1024: return 27;
    case 2048: return 54;
    case 4096: return 109;
    case 8192: return 218;
    case 16384: return 438;
    case 32768: return 881;
    default: return 0;
  }
}

std::string CkksParams::ToString() const {
  std::ostringstream out;
  out << "Params(poly_modulus_degree=" << poly_modulus_degree << ", coeff_mod_bit_sizes=(";
  for (std::size_t i = 0; i < coeff_mod_bit_sizes.size(); ++i) {
    out << (i ? ", " : "") << coeff_mod_bit_sizes[i];
  }
  out << "), scale_bits=" << scale_bits << ")";
  return out.str();
}

void CkksParams::Validate() const {
  auto fail = [this](const std::string& why) {
    throw std::invalid_argument("invalid " + ToString() + ": " + why);
  };
  const int max_bits = MaxCoeffModulusBits(poly_modulus_degree);
  if (max_bits == 0) {
    fail("poly_modulus_degree must be one of 1024, 2048, 4096, 8192, 16384, 32768");
  }
  if (coeff_mod_bit_sizes.size() < 2) {
    fail("coeff_mod_bit_sizes needs at least two primes (data primes, then the special prime)");
  }
  for (int bits : coeff_mod_bit_sizes) {
    if (bits < 20 || bits > 60) fail("every prime must have 20 to 60 bits, got " + std::to_string(bits));
  }
  const int total = std::accumulate(coeff_mod_bit_sizes.begin(), coeff_mod_bit_sizes.end(), 0);
  if (total > max_bits) {
    fail("the coefficient modulus has " + std::to_string(total) + " bits but N=" +
         std::to_string(poly_modulus_degree) + " allows at most " + std::to_string(max_bits) +
         " for 128-bit security; use fewer or smaller primes, a larger poly_modulus_degree, or "
         "Params.for_depth(depth)");
  }
  if (scale_bits < 1 || scale_bits >= coeff_mod_bit_sizes.front()) {
    fail("scale_bits must be positive and smaller than the first prime (" +
         std::to_string(coeff_mod_bit_sizes.front()) + " bits), which must hold the scaled result");
  }
  if (coeff_mod_bit_sizes.back() < *std::max_element(coeff_mod_bit_sizes.begin(), coeff_mod_bit_sizes.end() - 1)) {
    fail("the last (special) prime must be at least as large as every other prime");
  }
}

seal::EncryptionParameters CkksParams::ToSeal() const {
  Validate();
  seal::EncryptionParameters parms(seal::scheme_type::ckks);
  parms.set_poly_modulus_degree(poly_modulus_degree);
  try {
    parms.set_coeff_modulus(seal::CoeffModulus::Create(poly_modulus_degree, coeff_mod_bit_sizes));
  } catch (const std::logic_error& e) {
    throw std::invalid_argument("invalid " + ToString() + ": not enough primes of the requested sizes for N=" +
                                std::to_string(poly_modulus_degree) + " (" + e.what() + ")");
  }
  return parms;
}

}  // namespace he_tf
