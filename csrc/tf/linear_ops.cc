// Sums over a ciphertext axis and products with plaintext matrices.
#include <vector>

#include "core/arith.h"
#include "core/linear.h"
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
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("HeReduceSum")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("axis: int >= 0")
    .Output("result: variant")
    .SetShapeFn([](InferenceContext* c) {
      int axis;
      TF_RETURN_IF_ERROR(c->GetAttr("axis", &axis));
      ShapeHandle in = c->input(1), before, after, out;
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(in, axis + 1, &in));
      TF_RETURN_IF_ERROR(c->Subshape(in, 0, axis, &before));
      TF_RETURN_IF_ERROR(c->Subshape(in, axis + 1, &after));
      TF_RETURN_IF_ERROR(c->Concatenate(before, after, &out));
      c->set_output(0, out);
      return absl::OkStatus();
    })
    .Doc("Sums the ciphertexts along `axis` of the ciphertext tensor (equal levels and scales).");

class ReduceSumOp : public OpKernel {
 public:
  explicit ReduceSumOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("axis", &axis_)); }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    OP_REQUIRES(ctx, axis_ < a.dims() && a.dim_size(axis_) > 0,
                absl::InvalidArgumentError("HeReduceSum: axis " + std::to_string(axis_) +
                                           " is out of range or empty for shape " + a.shape().DebugString()));
    std::int64_t outer = 1, inner = 1;
    TensorShape shape;
    for (int d = 0; d < a.dims(); ++d) {
      if (d < axis_) outer *= a.dim_size(d);
      if (d > axis_) inner *= a.dim_size(d);
      if (d != axis_) shape.AddDim(a.dim_size(d));
    }
    const std::int64_t length = a.dim_size(axis_);
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    const PublicContext& pc = *context->get();
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, outer * inner, kCiphertextCost / 100 * length, [&](std::int64_t i) {
                     const std::int64_t o = i / inner, r = i % inner;
                     seal::Ciphertext sum = CiphertextAt(a, o * length * inner + r).Get(pc);
                     for (std::int64_t k = 1; k < length; ++k) {
                       sum = Add(pc, sum, CiphertextAt(a, (o * length + k) * inner + r).Get(pc));
                     }
                     result(i) = Wrap(pc, std::move(sum));
                   }));
  }

 private:
  int axis_;
};
REGISTER_KERNEL_BUILDER(Name("HeReduceSum").Device(tensorflow::DEVICE_CPU), ReduceSumOp);

REGISTER_OP("HeMatMulConstants")
    .Input("context: variant")
    .Input("a: variant")
    .Input("weights: float64")
    .Output("result: variant")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle a, w, out;
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(1), 1, &a));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &w));
      DimensionHandle unused;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, -1), c->Dim(w, 0), &unused));
      TF_RETURN_IF_ERROR(c->ReplaceDim(a, -1, c->Dim(w, 1), &out));
      c->set_output(0, out);
      return absl::OkStatus();
    })
    .Doc("a[..., F] @ weights[F, K] -> [..., K] over the last ciphertext axis (not packed into slots): "
         "ciphertext-times-constant and adds, one rescale, no rotations.");

class MatMulConstantsOp : public OpKernel {
 public:
  explicit MatMulConstantsOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    const Tensor& w = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    OP_REQUIRES(ctx, a.dims() >= 1 && w.dims() == 2 && a.dim_size(a.dims() - 1) == w.dim_size(0),
                absl::InvalidArgumentError("HeMatMulConstants: cannot multiply ciphertexts " + a.shape().DebugString() +
                                           " by a matrix " + w.shape().DebugString()));
    const std::int64_t in = w.dim_size(0), out_dim = w.dim_size(1);
    TensorShape shape = a.shape();
    shape.set_dim(shape.dims() - 1, out_dim);
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    const PublicContext& pc = *context->get();
    const double* weights = w.flat<double>().data();
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, out->NumElements(), kCiphertextCost / 10 * in, [&](std::int64_t i) {
                     const std::int64_t row = i / out_dim, k = i % out_dim;
                     std::vector<const seal::Ciphertext*> cts(in);
                     for (std::int64_t f = 0; f < in; ++f) cts[f] = &CiphertextAt(a, row * in + f).Get(pc);
                     result(i) = Wrap(pc, DotWithConstants(pc, cts, weights + k, static_cast<std::size_t>(out_dim)));
                   }));
  }
};
REGISTER_KERNEL_BUILDER(Name("HeMatMulConstants").Device(tensorflow::DEVICE_CPU), MatMulConstantsOp);

REGISTER_OP("HeMatMulDiagonal")
    .Input("context: variant")
    .Input("a: variant")
    .Input("weights: float64")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Each ciphertext holds a vector x of weights.shape[0] values in its slots; the result holds "
         "x @ weights (weights.shape[1] values). Diagonal method with baby-step/giant-step rotations.");

class MatMulDiagonalOp : public OpKernel {
 public:
  explicit MatMulDiagonalOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    const Tensor& w = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    OP_REQUIRES(ctx, w.dims() == 2,
                absl::InvalidArgumentError("HeMatMulDiagonal: weights must be a matrix, got " + w.shape().DebugString()));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, a.shape(), &out));
    if (a.NumElements() == 0) return;
    const PublicContext& pc = *context->get();
    std::unique_ptr<DiagonalMatMul> matmul;
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] {
                     const int level = pc.Level(CiphertextAt(a, 0).Get(pc));
                     matmul = std::make_unique<DiagonalMatMul>(pc, w.flat<double>().data(), w.dim_size(0),
                                                               w.dim_size(1), level);
                   }));
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, a.NumElements(), kCiphertextCost * 10, [&](std::int64_t i) {
                     result(i) = Wrap(pc, matmul->Apply(CiphertextAt(a, i).Get(pc)));
                   }));
  }
};
REGISTER_KERNEL_BUILDER(Name("HeMatMulDiagonal").Device(tensorflow::DEVICE_CPU), MatMulDiagonalOp);

}  // namespace he_tf
