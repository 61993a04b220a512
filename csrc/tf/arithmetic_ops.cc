// Elementwise ciphertext arithmetic.
#include "core/ckks.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_util.h"

namespace he_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("HeAdd")
    .Input("context: variant")
    .Input("a: variant")
    .Input("b: variant")
    .Output("sum: variant")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle out;
      TF_RETURN_IF_ERROR(c->Merge(c->input(1), c->input(2), &out));
      c->set_output(0, out);
      return absl::OkStatus();
    })
    .Doc("Elementwise a + b of two ciphertext tensors of the same shape and key set.");

class AddOp : public OpKernel {
 public:
  explicit AddOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    const Tensor& b = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, b, "b"));
    OP_REQUIRES(ctx, a.shape() == b.shape(),
                absl::InvalidArgumentError("HeAdd: operand shapes differ: " + a.shape().DebugString() + " vs " +
                                           b.shape().DebugString()));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, a.shape(), &out));
    const PublicContext& pc = *context->get();
    auto sums = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, a.NumElements(), kCiphertextCost / 100, [&](std::int64_t i) {
                     sums(i) = CiphertextVariant(pc.key_id(), Add(pc, CiphertextAt(a, i).Get(pc), CiphertextAt(b, i).Get(pc)));
                   }));
  }
};

REGISTER_KERNEL_BUILDER(Name("HeAdd").Device(tensorflow::DEVICE_CPU), AddOp);

}  // namespace he_tf
