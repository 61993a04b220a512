#include "secret_key.h"

#include "key_header.h"
#include "public_context.h"
#include "seal_io.h"

namespace he_tf {

SecretKey::SecretKey(std::uint64_t key_id, const CkksParams& params, seal::SEALContext context, seal::SecretKey key)
    : key_id_(key_id),
      params_(params),
      context_(std::move(context)),
      key_(std::move(key)),
      decryptor_(context_, key_),
      encryptor_(context_, key_) {}

std::shared_ptr<const SecretKey> SecretKey::Deserialize(std::string_view bytes) {
  ByteReader r(bytes, kSecretKeyMagic, "a secret key");
  const KeyHeader header = ReadKeyHeader(r);
  const std::string_view key_bytes = r.Blob();
  r.End();
  seal::SEALContext context = MakeSealContext(header.params);
  seal::SecretKey key;
  LoadFromString(context, key_bytes, key, "secret key");
  return std::shared_ptr<const SecretKey>(
      new SecretKey(header.key_id, header.params, std::move(context), std::move(key)));
}

}  // namespace he_tf
