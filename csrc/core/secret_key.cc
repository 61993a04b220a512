#include "secret_key.h"

#include <algorithm>
#include <vector>

#include "key_header.h"
#include "public_context.h"
#include "seal_load.h"
#include "seal/util/ntt.h"
#include "seal/util/uintarithsmallmod.h"

namespace he_tf {

SecretKey::SecretKey(std::uint64_t key_id, const CkksParams& params, seal::SEALContext context, seal::SecretKey key)
    : key_id_(key_id),
      params_(params),
      context_(std::move(context)),
      key_(std::move(key)),
      decryptor_(context_, key_),
      encryptor_(context_, key_) {}

namespace {

// A public key (b, a) satisfies b + a*s = e with e small only for its own
// secret key s; any other key gives uniform residues. Checked on the first prime.
void CheckKeyPair(const seal::SEALContext& context, const seal::SecretKey& sk, const seal::PublicKey& pk) {
  const auto data = context.key_context_data();
  const std::size_t n = data->parms().poly_modulus_degree();
  const seal::Modulus& q = data->parms().coeff_modulus().front();
  const std::uint64_t* b = pk.data().data(0);
  const std::uint64_t* a = pk.data().data(1);
  const std::uint64_t* s = sk.data().data();
  std::vector<std::uint64_t> e(n);
  for (std::size_t i = 0; i < n; ++i) {
    e[i] = seal::util::add_uint_mod(b[i], seal::util::multiply_uint_mod(a[i], s[i], q), q);
  }
  seal::util::inverse_ntt_negacyclic_harvey(seal::util::CoeffIter(e.data()), data->small_ntt_tables()[0]);
  constexpr std::uint64_t kNoiseBound = 1 << 10;  // SEAL's key noise stays below 20
  for (std::uint64_t v : e) {
    if (std::min(v, q.value() - v) > kNoiseBound) {
      throw std::invalid_argument("cannot read a secret key: it does not belong to the public key stored with it "
                                  "(corrupted, or relabelled from another key set)");
    }
  }
}

}  // namespace

std::shared_ptr<const SecretKey> SecretKey::Deserialize(std::string_view bytes) {
  ByteReader r(bytes, kSecretKeyMagic, "a secret key");
  const KeyHeader header = ReadKeyHeader(r);
  const std::string_view key_bytes = r.Blob();
  const std::string_view public_key = r.Blob();
  r.End();
  if (header.key_id != KeyIdOf(public_key)) r.Fail("its key-set id is not the one of its public key (relabelled)");
  seal::SEALContext context = MakeSealContext(header.params);
  seal::SecretKey key;
  seal::PublicKey pk;
  LoadValidated(context, key_bytes, key);
  LoadValidated(context, public_key, pk);
  CheckKeyPair(context, key, pk);
  return std::shared_ptr<const SecretKey>(
      new SecretKey(header.key_id, header.params, std::move(context), std::move(key)));
}

}  // namespace he_tf
