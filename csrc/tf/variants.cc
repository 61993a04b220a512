#include "tf/variants.h"

#include <cstring>
#include <sstream>

#include "core/ckks.h"
#include "core/seal_io.h"
#include "core/seal_load.h"
#include "tensorflow/core/framework/variant_op_registry.h"

namespace he_tf {

// ---- SealObjectVariant ------------------------------------------------------

namespace {
constexpr char kCiphertextTypeName[] = "he_tf.Ciphertext";
constexpr char kPlaintextTypeName[] = "he_tf.Plaintext";
const char* What(const seal::Ciphertext*) { return "ciphertext"; }
const char* What(const seal::Plaintext*) { return "plaintext"; }
}  // namespace

template <>
std::string SealObjectVariant<seal::Ciphertext>::TypeName() const { return kCiphertextTypeName; }
template <>
std::string SealObjectVariant<seal::Plaintext>::TypeName() const { return kPlaintextTypeName; }

template <class T>
SealObjectVariant<T>::SealObjectVariant(std::uint64_t key_id, T obj) : state_(std::make_shared<State>()) {
  state_->key_id = key_id;
  state_->obj = std::move(obj);
  state_->loaded.store(true, std::memory_order_release);
}

template <class T>
SealObjectVariant<T> SealObjectVariant<T>::FromBytes(std::uint64_t key_id, std::string bytes) {
  SealObjectVariant v;
  v.state_ = std::make_shared<State>();
  v.state_->key_id = key_id;
  v.state_->bytes = std::move(bytes);
  return v;
}

template <class T>
SealObjectVariant<T> SealObjectVariant<T>::FromOwnBytes(std::uint64_t key_id, std::string bytes) {
  SealObjectVariant v = FromBytes(key_id, std::move(bytes));
  v.state_->own = true;
  return v;
}

// Layout: 8-byte key id, then SEAL's bytes, uncompressed unless kept compact
// (compression buys little on ciphertexts and costs time on every send).
template <class T>
void SealObjectVariant<T>::Encode(tensorflow::VariantTensorData* data) const {
  data->set_type_name(TypeName());
  std::string& out = data->metadata_string();
  out.clear();
  if (!state_) return;
  out.append(reinterpret_cast<const char*>(&state_->key_id), sizeof state_->key_id);
  std::lock_guard<std::mutex> lock(state_->mu);
  out += state_->bytes.empty() ? SaveToString(state_->obj, seal::compr_mode_type::none) : state_->bytes;
}

template <class T>
bool SealObjectVariant<T>::Decode(tensorflow::VariantTensorData data) {
  const std::string& in = data.metadata_string();
  std::uint64_t key_id;
  if (in.size() <= sizeof key_id) return false;
  std::memcpy(&key_id, in.data(), sizeof key_id);
  *this = FromBytes(key_id, in.substr(sizeof key_id));
  return true;
}

template <class T>
std::string SealObjectVariant<T>::DebugString() const {
  std::ostringstream out;
  out << "<" << TypeName() << " key_set=" << std::hex << key_id() << ">";
  return out.str();
}

template <class T>
const T& SealObjectVariant<T>::Get(const PublicContext& ctx) const {
  const char* what = What(static_cast<const T*>(nullptr));
  if (!state_) throw std::invalid_argument(std::string("an element holds an empty ") + what);
  if (state_->key_id != ctx.key_id()) {
    std::ostringstream msg;
    msg << "a " << what << " of key set " << std::hex << state_->key_id
        << " was given with the public context of key set " << ctx.key_id()
        << "; ciphertexts of different KeySets cannot be combined (re-encrypt under one KeySet)";
    throw std::invalid_argument(msg.str());
  }
  if (!state_->loaded.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->loaded.load(std::memory_order_relaxed)) {
      LoadValidated(ctx.seal_context(), state_->bytes, state_->obj);
      // Keep the bytes only if they are compact (seeded): re-sending then costs half.
      if (4 * state_->bytes.size() > 3 * static_cast<std::size_t>(state_->obj.save_size(seal::compr_mode_type::none))) {
        std::string().swap(state_->bytes);
      }
      state_->loaded.store(true, std::memory_order_release);
    }
  }
  return state_->obj;
}

template <class T>
std::string SealObjectVariant<T>::Compact() const {
  if (!state_ || !(state_->own || state_->loaded.load(std::memory_order_acquire))) return {};
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->bytes;
}

template class SealObjectVariant<seal::Ciphertext>;
template class SealObjectVariant<seal::Plaintext>;

// ---- PublicContextVariant ---------------------------------------------------

void PublicContextVariant::Encode(tensorflow::VariantTensorData* data) const {
  data->set_type_name(kTypeName);
  data->metadata_string() = ctx_ ? ctx_->bytes() : std::string();
}

bool PublicContextVariant::Decode(tensorflow::VariantTensorData data) {
  try {
    ctx_ = PublicContext::Deserialize(data.metadata_string());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string PublicContextVariant::DebugString() const {
  if (!ctx_) return "<he_tf.PublicContext empty>";
  std::ostringstream out;
  out << "<he_tf.PublicContext key_set=" << std::hex << ctx_->key_id() << " " << ctx_->params().ToString() << ">";
  return out.str();
}

// ---- SecretKeyVariant -------------------------------------------------------

void SecretKeyVariant::Encode(tensorflow::VariantTensorData* data) const {
  data->set_type_name(kTypeName);
  data->metadata_string().clear();
}

bool SecretKeyVariant::Decode(tensorflow::VariantTensorData) { return false; }

REGISTER_UNARY_VARIANT_DECODE_FUNCTION(CiphertextVariant, kCiphertextTypeName);
REGISTER_UNARY_VARIANT_DECODE_FUNCTION(PlaintextVariant, kPlaintextTypeName);
REGISTER_UNARY_VARIANT_DECODE_FUNCTION(PublicContextVariant, PublicContextVariant::kTypeName);
REGISTER_UNARY_VARIANT_DECODE_FUNCTION(SecretKeyVariant, SecretKeyVariant::kTypeName);

}  // namespace he_tf
