// Key sets made by another SEAL 4 application (TenSEAL, a SEAL program) turned into he-tf's
// containers, so that its ciphertexts need no re-encryption. Every input is hostile bytes: each
// goes through the validating loaders (seal_load.h) before SEAL sees it.
#pragma once

#include <cstdint>
#include <string_view>

#include "keygen.h"
#include "params.h"

namespace he_tf {

// The parameters of SEAL-serialized CKKS EncryptionParameters, with `scale_bits`. he-tf derives
// its primes from their bit sizes (SEAL's CoeffModulus::Create), so other primes of the same sizes
// are refused; so is anything CkksParams::Validate refuses.
CkksParams ParamsFromSealBytes(std::string_view encryption_parameters, int scale_bits);

// The key-set id AdoptKeys gives a key set with this public key (the digest of it as he-tf saves it).
std::uint64_t AdoptedKeyId(const CkksParams& params, std::string_view public_key);

// The two containers GenerateKeys writes, from SEAL-serialized keys of one key set under `params`.
// `secret_key` empty: none (KeySetBytes::secret_key stays empty); otherwise it must belong to
// `public_key`. Relinearization keys are required (every he-tf context carries them); `galois_keys`
// empty: none (rotations then fail naming the missing key). With a secret key, empty relinearization
// or Galois keys are made from it where `make_relin` / `make_galois` ask (an application that keeps
// the secret key may store only that it had them; Galois keys: every power-of-two rotation). Both
// containers are read back through PublicContext::Deserialize and SecretKey::Deserialize first.
struct ForeignKeys {
  std::string_view public_key, relin_keys, galois_keys, secret_key;
  bool make_relin = false, make_galois = false;
};
KeySetBytes AdoptKeys(const CkksParams& params, const ForeignKeys& keys);

}  // namespace he_tf
