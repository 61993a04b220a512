#include "adopt_keys.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "key_header.h"
#include "public_context.h"
#include "seal/galoiskeys.h"
#include "seal/keygenerator.h"
#include "seal_io.h"
#include "seal_load.h"
#include "secret_key.h"

namespace he_tf {

CkksParams ParamsFromSealBytes(std::string_view encryption_parameters, int scale_bits) {
  seal::EncryptionParameters parms;
  LoadValidated(encryption_parameters, parms);
  CkksParams params;
  params.poly_modulus_degree = parms.poly_modulus_degree();
  params.coeff_mod_bit_sizes.clear();
  for (const seal::Modulus& q : parms.coeff_modulus()) params.coeff_mod_bit_sizes.push_back(q.bit_count());
  params.scale_bits = scale_bits;
  const auto derived = params.ToSeal().coeff_modulus();  // Validate()s, then the primes of these sizes
  for (std::size_t i = 0; i < derived.size(); ++i) {
    if (derived[i].value() != parms.coeff_modulus()[i].value()) {
      throw std::invalid_argument(
          "refused the encryption parameters: prime " + std::to_string(i) + " is " +
          std::to_string(parms.coeff_modulus()[i].value()) + ", not the " +
          std::to_string(params.coeff_mod_bit_sizes[i]) + "-bit prime " + std::to_string(derived[i].value()) +
          " that SEAL's CoeffModulus::Create picks; he-tf derives its primes from their bit sizes (" +
          params.ToString() + "), so create the keys with CoeffModulus::Create");
    }
  }
  return params;
}

namespace {
// The public key, validated, as he-tf saves it: the bytes its key-set id is the digest of.
std::string CanonicalPublicKey(const seal::SEALContext& context, std::string_view public_key) {
  if (public_key.empty()) {
    throw std::invalid_argument("refused the key set: it has no public key, which he-tf's key-set id and "
                                "encryption need");
  }
  seal::PublicKey pk;
  LoadValidated(context, public_key, pk);
  return SaveToString(pk);
}
}  // namespace

std::uint64_t AdoptedKeyId(const CkksParams& params, std::string_view public_key) {
  return KeyIdOf(CanonicalPublicKey(MakeSealContext(params), public_key));
}

KeySetBytes AdoptKeys(const CkksParams& params, const ForeignKeys& keys) {
  const seal::SEALContext context = MakeSealContext(params);
  const std::string pk_bytes = CanonicalPublicKey(context, keys.public_key);
  std::optional<seal::SecretKey> sk;
  if (!keys.secret_key.empty()) LoadValidated(context, keys.secret_key, sk.emplace());
  std::optional<seal::KeyGenerator> keygen;
  if (sk) keygen.emplace(context, *sk);

  std::string relin;
  if (!keys.relin_keys.empty()) {
    seal::RelinKeys rk;
    LoadValidated(context, keys.relin_keys, rk);
    relin = SaveToString(rk);
  } else if (keygen && keys.make_relin) {
    relin = SaveToString(keygen->create_relin_keys());
  } else {
    throw std::invalid_argument("refused the key set: it has no relinearization keys, which every he-tf "
                                "context carries (ciphertext products need them)");
  }
  std::string galois;
  if (!keys.galois_keys.empty()) {
    seal::GaloisKeys gk;
    LoadValidated(context, keys.galois_keys, gk);
    galois = SaveToString(gk);
  } else if (keygen && keys.make_galois) {
    galois = SaveToString(keygen->create_galois_keys());
  }
  const KeyHeader header{KeyIdOf(pk_bytes), params};

  ByteWriter pub(kPublicContextMagic);
  WriteKeyHeader(pub, header);
  pub.Blob(pk_bytes);
  pub.Blob(relin);
  pub.Blob(galois);
  KeySetBytes out{pub.Take(), {}};
  if (sk) {
    ByteWriter sec(kSecretKeyMagic);
    WriteKeyHeader(sec, header);
    sec.Blob(SaveToString(*sk));
    sec.Blob(pk_bytes);
    out.secret_key = sec.Take();
    SecretKey::Deserialize(out.secret_key);  // refuses a secret key of another key set
  }
  PublicContext::Deserialize(out.public_context);
  return out;
}

}  // namespace he_tf
