#include "public_context.h"

#include <cmath>
#include <stdexcept>

#include "key_header.h"
#include "seal_load.h"

namespace he_tf {

seal::SEALContext MakeSealContext(const CkksParams& params) {
  seal::SEALContext context(params.ToSeal(), /*expand_mod_chain=*/true, seal::sec_level_type::tc128);
  if (!context.parameters_set()) {
    throw std::invalid_argument("SEAL rejected " + params.ToString() + ": " + context.parameter_error_message());
  }
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
