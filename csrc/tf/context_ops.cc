// Ops that turn key bytes into the scalar variants every other op takes.
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

REGISTER_KERNEL_BUILDER(Name("HePublicContext").Device(tensorflow::DEVICE_CPU),
                        FromBytesOp<PublicContextVariant, PublicContext>);
REGISTER_KERNEL_BUILDER(Name("HeSecretKey").Device(tensorflow::DEVICE_CPU), FromBytesOp<SecretKeyVariant, SecretKey>);

}  // namespace he_tf
