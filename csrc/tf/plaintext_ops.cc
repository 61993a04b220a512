// Encoding values into CKKS plaintexts (at a chosen level and scale) and back.
#include "core/arith.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_util.h"

namespace he_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("HeEncode")
    .Input("context: variant")
    .Input("values: float64")
    .Input("scale: float64")
    .Attr("level: int >= 0")
    .Output("plaintexts: variant")
    .SetShapeFn([](InferenceContext* c) { return RowsShapeFn(c, 1); })
    .Doc("Encodes values[..., n] into plaintexts[...] at `level` and `scale`.");

REGISTER_OP("HeDecode")
    .Input("context: variant")
    .Input("plaintexts: variant")
    .Attr("num_values: int >= 0")
    .Output("values: float64")
    .SetShapeFn([](InferenceContext* c) { return SlotValuesShapeFn(c, 1); })
    .Doc("Decodes plaintexts[...] into their first num_values slots, values[..., num_values].");

class EncodeOp : public OpKernel {
 public:
  explicit EncodeOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("level", &level_)); }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& values = ctx->input(1);
    const Tensor& scale = ctx->input(2);
    OP_REQUIRES(ctx, values.dims() >= 1 && scale.NumElements() == 1,
                absl::InvalidArgumentError("HeEncode: values need a slot axis last and scale must be a scalar"));
    TensorShape shape = values.shape();
    const std::int64_t n = shape.dim_size(shape.dims() - 1);
    shape.RemoveLastDims(1);
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    const PublicContext& pc = *context->get();
    seal::parms_id_type parms;
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] { parms = ParmsAtLevel(pc, level_); }));
    const double s = scale.flat<double>()(0);
    const double* in = values.flat<double>().data();
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, out->NumElements(), kCiphertextCost / 10, [&](std::int64_t i) {
                     result(i) = PlaintextVariant(pc.key_id(), EncodeAt(pc, in + i * n, static_cast<std::size_t>(n),
                                                                        parms, s));
                   }));
  }

 private:
  int level_;
};

class DecodeOp : public OpKernel {
 public:
  explicit DecodeOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("num_values", &n_)); }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& plains = ctx->input(1);
    const PublicContext& pc = *context->get();
    OP_REQUIRES(ctx, static_cast<std::size_t>(n_) <= pc.slot_count(),
                absl::InvalidArgumentError("HeDecode: num_values exceeds the slot count"));
    TensorShape shape = plains.shape();
    shape.AddDim(n_);
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    double* values = out->flat<double>().data();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, plains.NumElements(), kCiphertextCost / 10, [&](std::int64_t i) {
                     const tensorflow::Variant& v = plains.flat<tensorflow::Variant>()(i);
                     const PlaintextVariant* p = v.get<PlaintextVariant>();
                     if (p == nullptr) throw std::invalid_argument("expected he_tf plaintexts, got '" + v.TypeName() + "'");
                     thread_local std::vector<double> slots;
                     pc.encoder().decode(p->Get(pc), slots);
                     std::copy(slots.begin(), slots.begin() + n_, values + i * n_);
                   }));
  }

 private:
  int n_;
};

REGISTER_KERNEL_BUILDER(Name("HeEncode").Device(tensorflow::DEVICE_CPU), EncodeOp);
REGISTER_KERNEL_BUILDER(Name("HeDecode").Device(tensorflow::DEVICE_CPU), DecodeOp);

}  // namespace he_tf
