// The header every serialized he-tf key container starts with: which key set
// it belongs to and the parameters it was made for.
#pragma once

#include <cstdint>
#include <string_view>

#include "bytes.h"
#include "params.h"

namespace he_tf {

inline constexpr char kPublicContextMagic[] = "HETFPUB2";
inline constexpr char kSecretKeyMagic[] = "HETFSEC2";

// A key set's id: derived from its public key (the serialized blob), so a
// context or secret key relabelled with another key set's id is refused.
inline std::uint64_t KeyIdOf(std::string_view public_key_bytes) { return Digest64(public_key_bytes); }

struct KeyHeader {
  // Ciphertexts, contexts and secret keys carry it so that mixing key sets is
  // caught instead of silently giving garbage.
  std::uint64_t key_id = 0;
  CkksParams params;
};

inline void WriteKeyHeader(ByteWriter& w, const KeyHeader& h) {
  w.U64(h.key_id);
  w.U64(h.params.poly_modulus_degree);
  w.U64(h.params.coeff_mod_bit_sizes.size());
  for (int bits : h.params.coeff_mod_bit_sizes) w.U64(static_cast<std::uint64_t>(bits));
  w.U64(static_cast<std::uint64_t>(h.params.scale_bits));
}

inline KeyHeader ReadKeyHeader(ByteReader& r) {
  KeyHeader h;
  h.key_id = r.U64();
  h.params.poly_modulus_degree = r.U64();
  const std::uint64_t primes = r.U64();
  if (primes > 64) r.Fail("implausible prime count " + std::to_string(primes));
  h.params.coeff_mod_bit_sizes.clear();
  for (std::uint64_t i = 0; i < primes; ++i) h.params.coeff_mod_bit_sizes.push_back(static_cast<int>(r.U64()));
  h.params.scale_bits = static_cast<int>(r.U64());
  h.params.Validate();
  return h;
}

}  // namespace he_tf
