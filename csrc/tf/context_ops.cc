// Ops that turn key bytes into the scalar variants every other op takes, and
// key generation on the device that will keep the secret key.
#include "core/keygen.h"
#include "core/public_context.h"
#include "core/secret_key.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tf/kernel_util.h"
#include "tf/variants.h"

namespace he_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;

REGISTER_OP("HePublicContext")
    .Input("serialized: string")
    .Output("context: variant")
    .SetShapeFn(tensorflow::shape_inference::ScalarShape)
    .Doc("Parses a PublicContext (parameters, public, relinearization and Galois keys).");

REGISTER_OP("HeSecretKey")
    .Input("serialized: string")
    .Output("secret_key: variant")
    .SetIsStateful()  // never constant-folded into a graph
    .SetShapeFn(tensorflow::shape_inference::ScalarShape)
    .Doc("Parses a secret key.");

template <class Variant, class Core>
class FromBytesOp : public OpKernel {
 public:
  explicit FromBytesOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& in = ctx->input(0);
    OP_REQUIRES(ctx, in.dims() == 0,
                absl::InvalidArgumentError(type_string() + ": expected a scalar string, got shape " +
                                           in.shape().DebugString()));
    std::shared_ptr<const Core> parsed;
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] { const tensorflow::tstring& s = in.scalar<tensorflow::tstring>()();
      parsed = Core::Deserialize(std::string_view(s.data(), s.size())); }));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &out));
    out->scalar<tensorflow::Variant>()() = Variant(std::move(parsed));
  }
};

REGISTER_OP("HeGenerateKeys")
    .Attr("poly_modulus_degree: int")
    .Attr("coeff_mod_bit_sizes: list(int)")
    .Attr("scale_bits: int")
    .Attr("power_of_two_rotations: bool = true")
    .Attr("rotations: list(int) = []")
    .Output("public_context: string")
    .Output("secret_key: variant")
    .SetIsStateful()  // random: a new key set every run
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->Scalar());
      c->set_output(1, c->Scalar());
      return absl::OkStatus();
    })
    .Doc("Generates a key set where the op runs: the public context's bytes (to share) and the secret key as a "
         "variant, whose bytes never leave this kernel. Galois keys: every power of two, or exactly `rotations`.");

class GenerateKeysOp : public OpKernel {
 public:
  explicit GenerateKeysOp(OpKernelConstruction* c) : OpKernel(c) {
    std::int64_t n;
    bool power_of_two;
    std::vector<int> bits, rotations;  // GetAttr appends to a vector: never read into the defaults
    OP_REQUIRES_OK(c, c->GetAttr("poly_modulus_degree", &n));
    OP_REQUIRES_OK(c, c->GetAttr("coeff_mod_bit_sizes", &bits));
    OP_REQUIRES_OK(c, c->GetAttr("scale_bits", &params_.scale_bits));
    OP_REQUIRES_OK(c, c->GetAttr("power_of_two_rotations", &power_of_two));
    OP_REQUIRES_OK(c, c->GetAttr("rotations", &rotations));
    params_.poly_modulus_degree = static_cast<std::size_t>(n);
    params_.coeff_mod_bit_sizes = std::move(bits);
    if (!power_of_two) rotations_ = std::move(rotations);
  }

  void Compute(OpKernelContext* ctx) override {
    KeySetBytes keys;
    std::shared_ptr<const SecretKey> secret;
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] {
                     params_.Validate();
                     keys = GenerateKeys(params_, rotations_);
                     secret = SecretKey::Deserialize(keys.secret_key);
                   }));
    std::fill(keys.secret_key.begin(), keys.secret_key.end(), '\0');  // no copy of the bytes lingers
    Tensor* public_context;
    Tensor* secret_key;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &public_context));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {}, &secret_key));
    public_context->scalar<tensorflow::tstring>()() = keys.public_context;
    secret_key->scalar<tensorflow::Variant>()() = SecretKeyVariant(std::move(secret));
  }

 private:
  CkksParams params_;
  std::optional<std::vector<int>> rotations_;
};

REGISTER_KERNEL_BUILDER(Name("HeGenerateKeys").Device(tensorflow::DEVICE_CPU), GenerateKeysOp);
REGISTER_KERNEL_BUILDER(Name("HePublicContext").Device(tensorflow::DEVICE_CPU),
                        FromBytesOp<PublicContextVariant, PublicContext>);
REGISTER_KERNEL_BUILDER(Name("HeSecretKey").Device(tensorflow::DEVICE_CPU), FromBytesOp<SecretKeyVariant, SecretKey>);

}  // namespace he_tf
