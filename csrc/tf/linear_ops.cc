// Sums over a ciphertext axis and products with plaintext matrices.
#include <memory>
#include <vector>

#include "core/arith.h"
#include "core/linear.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_skeleton.h"

namespace he_tf {

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

auto HeReduceSum(const Call& call) {
  const Tensor& a = call.Ciphertexts("a");
  const int axis = call.Attr<int>("axis");
  if (axis >= a.dims() || a.dim_size(axis) == 0) {
    throw std::invalid_argument("axis " + std::to_string(axis) + " is out of range or empty for shape " +
                                a.shape().DebugString());
  }
  std::int64_t inner = 1;
  TensorShape shape;
  for (int d = 0; d < a.dims(); ++d) {
    if (d > axis) inner *= a.dim_size(d);
    if (d != axis) shape.AddDim(a.dim_size(d));
  }
  const std::int64_t length = a.dim_size(axis);
  return EachElement(call, shape, kCiphertextCost / 100 * length, [&pc = call.pc(), &a, inner, length](std::int64_t i) {
    const std::int64_t o = i / inner, r = i % inner;
    seal::Ciphertext sum = CiphertextAt(a, o * length * inner + r).Get(pc);
    for (std::int64_t k = 1; k < length; ++k) sum = Add(pc, sum, CiphertextAt(a, (o * length + k) * inner + r).Get(pc));
    return sum;
  });
}
HE_REGISTER_KERNEL(HeReduceSum);

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

auto HeMatMulConstants(const Call& call) {
  const Tensor& a = call.Ciphertexts("a");
  const Tensor& w = call.Input("weights");
  if (a.dims() < 1 || w.dims() != 2 || a.dim_size(a.dims() - 1) != w.dim_size(0)) {
    throw std::invalid_argument("cannot multiply ciphertexts " + a.shape().DebugString() + " by a matrix " +
                                w.shape().DebugString());
  }
  const std::int64_t in = w.dim_size(0), out = w.dim_size(1);
  TensorShape shape = a.shape();
  shape.set_dim(shape.dims() - 1, out);
  return EachElement(call, shape, kCiphertextCost / 10 * in,
                     [&pc = call.pc(), &a, weights = w.flat<double>().data(), in, out](std::int64_t i) {
                       const std::int64_t row = i / out, k = i % out;
                       std::vector<const seal::Ciphertext*> cts(in);
                       for (std::int64_t f = 0; f < in; ++f) cts[f] = &CiphertextAt(a, row * in + f).Get(pc);
                       return DotWithConstants(pc, cts, weights + k, static_cast<std::size_t>(out));
                     });
}
HE_REGISTER_KERNEL(HeMatMulConstants);

REGISTER_OP("HeMatMulDiagonal")
    .Input("context: variant")
    .Input("a: variant")
    .Input("weights: float64")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Each ciphertext holds a vector x of weights.shape[0] values in its slots; the result holds "
         "x @ weights (weights.shape[1] values). Diagonal method with baby-step/giant-step rotations.");

auto HeMatMulDiagonal(const Call& call) {
  const Tensor& a = call.Ciphertexts("a");
  const Tensor& w = call.Input("weights");
  if (w.dims() != 2) throw std::invalid_argument("weights must be a matrix, got " + w.shape().DebugString());
  const PublicContext& pc = call.pc();
  std::shared_ptr<const DiagonalMatMul> matmul;  // built once per call, for the level of the ciphertexts
  if (a.NumElements() > 0) {
    matmul = std::make_shared<DiagonalMatMul>(pc, w.flat<double>().data(), w.dim_size(0), w.dim_size(1),
                                              pc.Level(CiphertextAt(a, 0).Get(pc)));
  }
  return MapCiphertexts(call, a, kCiphertextCost * 10,
                        [matmul](const seal::Ciphertext& ct) { return matmul->Apply(ct); });
}
HE_REGISTER_KERNEL(HeMatMulDiagonal);

}  // namespace he_tf
