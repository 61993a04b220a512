#include "public_context.h"

#include <cmath>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "key_header.h"
#include "seal/memorymanager.h"
#include "seal_load.h"

namespace he_tf {

seal::SEALContext MakeSealContext(const CkksParams& params) {
  // Building a context (primes, NTT tables) costs milliseconds; every context and key from the
  // same parameters can share one, immutable and thread-safe. The few most recent are kept.
  constexpr std::size_t kCached = 8;
  static std::mutex mu;
  static std::list<std::pair<std::string, seal::SEALContext>> cache;
  const std::string key = params.ToString();
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (it->first == key) {
        cache.splice(cache.begin(), cache, it);
        return cache.front().second;
      }
    }
  }
  // Its tables in a pool of its own, freed with it: SEAL's global pool never returns memory, so
  // contexts of ever new parameters (bytes from anyone) would grow it without bound.
  std::optional<seal::MMProfGuard> own_pool(std::in_place, std::make_unique<seal::MMProfNew>());
  seal::SEALContext context(params.ToSeal(), /*expand_mod_chain=*/true, seal::sec_level_type::tc128);
  own_pool.reset();
  if (!context.parameters_set()) {
    throw std::invalid_argument("SEAL rejected " + params.ToString() + ": " + context.parameter_error_message());
  }
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace_front(key, context);
  if (cache.size() > kCached) cache.pop_back();
  return context;
}

PublicContext::PublicContext(std::string bytes, std::uint64_t key_id, const CkksParams& params,
                             seal::SEALContext context, seal::PublicKey public_key, seal::RelinKeys relin_keys,
                             seal::GaloisKeys galois_keys)
    : bytes_(std::move(bytes)),
      key_id_(key_id),
      params_(params),
      scale_(std::ldexp(1.0, params.scale_bits)),
      context_(std::move(context)),
      encoder_(context_),
      evaluator_(context_),
      public_key_(std::move(public_key)),
      relin_keys_(std::move(relin_keys)),
      galois_keys_(std::move(galois_keys)),
      encryptor_(context_, public_key_) {}

std::shared_ptr<const PublicContext> PublicContext::Deserialize(std::string_view bytes) {
  ByteReader r(bytes, kPublicContextMagic, "a public context");
  const KeyHeader header = ReadKeyHeader(r);
  const std::string_view public_key = r.Blob();
  const std::string_view relin_keys = r.Blob();
  const std::string_view galois_keys = r.Blob();
  r.End();
  if (header.key_id != KeyIdOf(public_key)) r.Fail("its key-set id is not the one of its public key (relabelled)");

  seal::SEALContext context = MakeSealContext(header.params);
  seal::PublicKey pk;
  seal::RelinKeys rk;
  seal::GaloisKeys gk;
  LoadValidated(context, public_key, pk);
  LoadValidated(context, relin_keys, rk);
  if (!galois_keys.empty()) LoadValidated(context, galois_keys, gk);
  return std::shared_ptr<const PublicContext>(new PublicContext(std::string(bytes), header.key_id, header.params,
                                                                std::move(context), std::move(pk), std::move(rk),
                                                                std::move(gk)));
}

int PublicContext::Level(const seal::Ciphertext& ct) const {
  auto data = context_.get_context_data(ct.parms_id());
  if (!data) {
    throw std::invalid_argument("the ciphertext was not made under this public context's parameters");
  }
  return static_cast<int>(data->chain_index());
}

}  // namespace he_tf
