#include "keygen.h"

#include <stdexcept>

#include "key_header.h"
#include "public_context.h"
#include "seal/keygenerator.h"
#include "seal_io.h"

namespace he_tf {

KeySetBytes GenerateKeys(const CkksParams& params, const std::optional<std::vector<int>>& rotation_steps) {
  const seal::SEALContext context = MakeSealContext(params);
  seal::KeyGenerator keygen(context);

  // Seeded (Serializable) keys serialize at about half the size.
  std::string galois;
  if (!rotation_steps) {
    galois = SaveToString(keygen.create_galois_keys());
  } else if (!rotation_steps->empty()) {
    const int slots = static_cast<int>(params.slot_count());
    for (int step : *rotation_steps) {
      if (step == 0 || step <= -slots || step >= slots) {
        throw std::invalid_argument("rotation step " + std::to_string(step) + " must be non-zero and within (-" +
                                    std::to_string(slots) + ", " + std::to_string(slots) + ")");
      }
    }
    galois = SaveToString(keygen.create_galois_keys(*rotation_steps));
  }
  const std::string public_key = SaveToString(keygen.create_public_key());
  const KeyHeader header{KeyIdOf(public_key), params};

  ByteWriter pub(kPublicContextMagic);
  WriteKeyHeader(pub, header);
  pub.Blob(public_key);
  pub.Blob(SaveToString(keygen.create_relin_keys()));
  pub.Blob(galois);

  // The secret key travels with its public key, so that loading it can check
  // that the two belong together (and so the key-set id).
  ByteWriter sec(kSecretKeyMagic);
  WriteKeyHeader(sec, header);
  sec.Blob(SaveToString(keygen.secret_key()));
  sec.Blob(public_key);
  return {pub.Take(), sec.Take()};
}

}  // namespace he_tf
