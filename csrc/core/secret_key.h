// The secret key of one key set. Kept apart from PublicContext by
// construction: nothing that computes on ciphertexts can reach it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "params.h"
#include "seal/context.h"
#include "seal/decryptor.h"
#include "seal/encryptor.h"
#include "seal/secretkey.h"

namespace he_tf {

class SecretKey {
 public:
  static std::shared_ptr<const SecretKey> Deserialize(std::string_view bytes);

  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  std::uint64_t key_id() const { return key_id_; }
  const CkksParams& params() const { return params_; }

  // Thread-safe: SEAL guards the decryptor's lazily grown key powers.
  void Decrypt(const seal::Ciphertext& ct, seal::Plaintext& out) const { decryptor_.decrypt(ct, out); }
  // Symmetric encryption: its serialized form carries a seed for half the
  // ciphertext, so it is about half the size of a public-key encryption.
  seal::Serializable<seal::Ciphertext> EncryptSymmetric(const seal::Plaintext& plain) const {
    return encryptor_.encrypt_symmetric(plain);
  }

 private:
  SecretKey(std::uint64_t key_id, const CkksParams& params, seal::SEALContext context, seal::SecretKey key);

  std::uint64_t key_id_;
  CkksParams params_;
  seal::SEALContext context_;
  seal::SecretKey key_;
  mutable seal::Decryptor decryptor_;
  seal::Encryptor encryptor_;
};

}  // namespace he_tf
