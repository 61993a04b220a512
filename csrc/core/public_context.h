// Everything needed to compute on ciphertexts of one key set, and nothing
// that can decrypt them: parameters, public key, relinearization and Galois
// keys, plus the SEAL encoder/evaluator/encryptor built once and shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "params.h"
#include "seal/ckks.h"
#include "seal/context.h"
#include "seal/encryptor.h"
#include "seal/evaluator.h"
#include "seal/galoiskeys.h"
#include "seal/publickey.h"
#include "seal/relinkeys.h"

namespace he_tf {

class PublicContext {
 public:
  // Parses and validates the container written by GenerateKeys. Throws
  // std::invalid_argument on malformed or inconsistent bytes.
  static std::shared_ptr<const PublicContext> Deserialize(std::string_view bytes);

  PublicContext(const PublicContext&) = delete;
  PublicContext& operator=(const PublicContext&) = delete;

  const std::string& bytes() const { return bytes_; }
  std::uint64_t key_id() const { return key_id_; }
  const CkksParams& params() const { return params_; }
  double scale() const { return scale_; }
  std::size_t slot_count() const { return params_.slot_count(); }

  const seal::SEALContext& seal_context() const { return context_; }
  const seal::CKKSEncoder& encoder() const { return encoder_; }
  const seal::Evaluator& evaluator() const { return evaluator_; }
  const seal::Encryptor& encryptor() const { return encryptor_; }
  const seal::RelinKeys& relin_keys() const { return relin_keys_; }
  const seal::GaloisKeys& galois_keys() const { return galois_keys_; }

  // Rescales still possible for `ct` (0 at the last level); throws if `ct`
  // was not made under these parameters.
  int Level(const seal::Ciphertext& ct) const;

 private:
  PublicContext(std::string bytes, std::uint64_t key_id, const CkksParams& params, seal::SEALContext context,
                seal::PublicKey public_key, seal::RelinKeys relin_keys, seal::GaloisKeys galois_keys);

  std::string bytes_;
  std::uint64_t key_id_;
  CkksParams params_;
  double scale_;
  seal::SEALContext context_;
  seal::CKKSEncoder encoder_;
  seal::Evaluator evaluator_;
  seal::PublicKey public_key_;
  seal::RelinKeys relin_keys_;
  seal::GaloisKeys galois_keys_;
  seal::Encryptor encryptor_;
};

// A CKKS context with the parameters' security level enforced.
seal::SEALContext MakeSealContext(const CkksParams& params);

}  // namespace he_tf
