// tf.variant payloads: one SEAL ciphertext (or encoded plaintext) per tensor
// element, and the scalar public context and secret key that ops take as inputs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/public_context.h"
#include "core/secret_key.h"
#include "seal/ciphertext.h"
#include "seal/plaintext.h"
#include "tensorflow/core/framework/variant.h"
#include "tensorflow/core/framework/variant_tensor_data.h"

namespace he_tf {

// A SEAL object (ciphertext or plaintext) and the key set it was made under.
// Copies share the object. One decoded from bytes (tf.io.parse_tensor, a
// tensor received from another host) cannot be validated until a context is
// at hand, so it stays as bytes until the first op loads it.
template <class T>
class SealObjectVariant {
 public:
  SealObjectVariant() = default;
  SealObjectVariant(std::uint64_t key_id, T obj);
  // An object still in SEAL's serialized form, loaded on first use.
  static SealObjectVariant FromBytes(std::uint64_t key_id, std::string bytes);
  // Compact bytes this process's own encryptor just made (a seeded ciphertext): no other party's, so
  // they serialize as they are, without loading (expanding the seed) first; loaded when an op uses them.
  static SealObjectVariant FromOwnBytes(std::uint64_t key_id, std::string bytes);

  std::string TypeName() const;  // "he_tf.Ciphertext" / "he_tf.Plaintext"
  void Encode(tensorflow::VariantTensorData* data) const;
  bool Decode(tensorflow::VariantTensorData data);
  std::string DebugString() const;

  std::uint64_t key_id() const { return state_ ? state_->key_id : 0; }
  // The object, loaded against `ctx` if it arrived as bytes. Throws
  // std::invalid_argument if it belongs to another key set or is corrupted.
  const T& Get(const PublicContext& ctx) const;
  // The serialized form kept because it is much smaller than the expanded
  // object (a seeded ciphertext from secret-key encryption), once loaded or
  // if it is our own (FromOwnBytes); empty otherwise.
  std::string Compact() const;

 private:
  struct State {
    std::uint64_t key_id = 0;
    std::atomic<bool> loaded{false};
    bool own = false;  // FromOwnBytes: compact bytes made here
    std::mutex mu;
    std::string bytes;  // serialized form: pending load, or kept when compact
    T obj;
  };
  std::shared_ptr<State> state_;
};

template <>
std::string SealObjectVariant<seal::Ciphertext>::TypeName() const;
template <>
std::string SealObjectVariant<seal::Plaintext>::TypeName() const;

using CiphertextVariant = SealObjectVariant<seal::Ciphertext>;
using PlaintextVariant = SealObjectVariant<seal::Plaintext>;

class PublicContextVariant {
 public:
  static constexpr char kTypeName[] = "he_tf.PublicContext";

  PublicContextVariant() = default;
  explicit PublicContextVariant(std::shared_ptr<const PublicContext> ctx) : ctx_(std::move(ctx)) {}

  std::string TypeName() const { return kTypeName; }
  void Encode(tensorflow::VariantTensorData* data) const;
  bool Decode(tensorflow::VariantTensorData data);
  std::string DebugString() const;

  const std::shared_ptr<const PublicContext>& get() const { return ctx_; }

 private:
  std::shared_ptr<const PublicContext> ctx_;
};

// Encoding a secret key is refused (it would put the key into a serialized
// graph or onto the wire); it lives only in the process that loaded it.
class SecretKeyVariant {
 public:
  static constexpr char kTypeName[] = "he_tf.SecretKey";

  SecretKeyVariant() = default;
  explicit SecretKeyVariant(std::shared_ptr<const SecretKey> key) : key_(std::move(key)) {}

  std::string TypeName() const { return kTypeName; }
  void Encode(tensorflow::VariantTensorData* data) const;
  bool Decode(tensorflow::VariantTensorData data);
  std::string DebugString() const { return "<he_tf.SecretKey>"; }

  const std::shared_ptr<const SecretKey>& get() const { return key_; }

 private:
  std::shared_ptr<const SecretKey> key_;
};

}  // namespace he_tf
