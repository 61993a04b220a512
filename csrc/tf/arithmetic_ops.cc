// Elementwise ciphertext arithmetic: with ciphertexts (NumPy broadcasting on
// the ciphertext axes), with plaintext rows and with per-ciphertext constants.
#include <functional>

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

using CipherBinaryFn =
    std::function<seal::Ciphertext(const PublicContext&, const seal::Ciphertext&, const seal::Ciphertext&)>;

#define HE_CIPHER_BINARY_OP(op_name, doc)                                            \
  REGISTER_OP(op_name)                                                            \
      .Input("context: variant")                                                  \
      .Input("a: variant")                                                        \
      .Input("b: variant")                                                        \
      .Output("result: variant")                                                  \
      .SetShapeFn([](InferenceContext* c) { return BroadcastShapeFn(c, 1, 2); }) \
      .Doc(doc)

HE_CIPHER_BINARY_OP("HeAdd", "a + b (equal levels and scales, or equal scales).");
HE_CIPHER_BINARY_OP("HeSub", "a - b (equal levels and scales).");
HE_CIPHER_BINARY_OP("HeMultiply", "a * b, relinearized and rescaled.");

class CipherBinaryOp : public OpKernel {
 public:
  CipherBinaryOp(OpKernelConstruction* c, CipherBinaryFn fn, std::int64_t cost)
      : OpKernel(c), fn_(std::move(fn)), cost_(cost) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    const Tensor& b = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, b, "b"));
    TensorShape shape;
    OP_REQUIRES_OK(ctx, BroadcastShapes(a.shape(), b.shape(), &shape));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    const PublicContext& pc = *context->get();
    const BroadcastIndex ia(a.shape(), shape), ib(b.shape(), shape);
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, out->NumElements(), cost_, [&](std::int64_t i) {
                     result(i) = Wrap(pc, fn_(pc, CiphertextAt(a, ia(i)).Get(pc), CiphertextAt(b, ib(i)).Get(pc)));
                   }));
  }

 private:
  CipherBinaryFn fn_;
  std::int64_t cost_;
};

// Binary kernels differ only in the function applied per element.
class AddOp : public CipherBinaryOp {
 public:
  explicit AddOp(OpKernelConstruction* c) : CipherBinaryOp(c, Add, kCiphertextCost / 100) {}
};
class SubOp : public CipherBinaryOp {
 public:
  explicit SubOp(OpKernelConstruction* c) : CipherBinaryOp(c, Sub, kCiphertextCost / 100) {}
};
class MultiplyOp : public CipherBinaryOp {
 public:
  explicit MultiplyOp(OpKernelConstruction* c) : CipherBinaryOp(c, Multiply, kCiphertextCost) {}
};
REGISTER_KERNEL_BUILDER(Name("HeAdd").Device(tensorflow::DEVICE_CPU), AddOp);
REGISTER_KERNEL_BUILDER(Name("HeSub").Device(tensorflow::DEVICE_CPU), SubOp);
REGISTER_KERNEL_BUILDER(Name("HeMultiply").Device(tensorflow::DEVICE_CPU), MultiplyOp);

// ---- with plaintext rows -----------------------------------------------------

#define HE_PLAIN_BINARY_OP(op_name, doc)                                              \
  REGISTER_OP(op_name)                                                             \
      .Input("context: variant")                                                   \
      .Input("a: variant")                                                         \
      .Input("plain: float64")                                                     \
      .Output("result: variant")                                                   \
      .SetShapeFn([](InferenceContext* c) {                                        \
        c->set_output(0, c->input(1));                                             \
        return absl::OkStatus();                                                   \
      })                                                                           \
      .Doc(doc)

HE_PLAIN_BINARY_OP("HeAddPlain", "a + plain, plain[..., n] broadcast over a's shape; n values per ciphertext.");
HE_PLAIN_BINARY_OP("HeSubPlain", "a - plain, plain[..., n] broadcast over a's shape.");
HE_PLAIN_BINARY_OP("HeMultiplyPlain", "a * plain, rescaled (scale unchanged); plain[..., n] broadcast over a.");

enum class PlainOpKind { kAdd, kSub, kMultiply };

// Each distinct plaintext row is encoded once, at the ciphertexts' level and
// the scale the operation needs, then applied to every ciphertext it
// broadcasts to.
template <PlainOpKind kKind>
class PlainBinaryOp : public OpKernel {
 public:
  explicit PlainBinaryOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    const Tensor& plain = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    OP_REQUIRES(ctx, plain.dims() >= 1,
                absl::InvalidArgumentError(type_string() + ": plain needs a last axis of slot values"));
    TensorShape rows = plain.shape();
    const std::int64_t n = rows.dim_size(rows.dims() - 1);
    rows.RemoveLastDims(1);
    TensorShape shape;
    OP_REQUIRES_OK(ctx, BroadcastShapes(a.shape(), rows, &shape));
    OP_REQUIRES(ctx, shape == a.shape(),
                absl::InvalidArgumentError(type_string() + ": plaintext rows " + rows.DebugString() +
                                           " do not broadcast to the ciphertexts' shape " + a.shape().DebugString()));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    if (a.NumElements() == 0) return;

    const PublicContext& pc = *context->get();
    std::vector<seal::Plaintext> encoded(rows.num_elements());
    const double* values = plain.flat<double>().data();
    seal::parms_id_type parms;
    double scale = 0;
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] {
                     const seal::Ciphertext& first = CiphertextAt(a, 0).Get(pc);
                     parms = first.parms_id();
                     scale = kKind == PlainOpKind::kMultiply ? RescalePrime(pc, first) : first.scale();
                     if (kKind == PlainOpKind::kMultiply) CheckCanRescale(pc, first, "multiply");
                   }));
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, rows.num_elements(), kCiphertextCost / 10, [&](std::int64_t r) {
                     encoded[r] = EncodeAt(pc, values + r * n, static_cast<std::size_t>(n), parms, scale);
                   }));
    const BroadcastIndex row_of(rows, shape);
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, out->NumElements(), kCiphertextCost / 10, [&](std::int64_t i) {
                     const seal::Ciphertext& ct = CiphertextAt(a, i).Get(pc);
                     const seal::Plaintext& p = encoded[row_of(i)];
                     switch (kKind) {
                       case PlainOpKind::kAdd: result(i) = Wrap(pc, AddPlain(pc, ct, p)); break;
                       case PlainOpKind::kSub: result(i) = Wrap(pc, SubPlain(pc, ct, p)); break;
                       case PlainOpKind::kMultiply: result(i) = Wrap(pc, MultiplyPlain(pc, ct, p)); break;
                     }
                   }));
  }
};

REGISTER_KERNEL_BUILDER(Name("HeAddPlain").Device(tensorflow::DEVICE_CPU), PlainBinaryOp<PlainOpKind::kAdd>);
REGISTER_KERNEL_BUILDER(Name("HeSubPlain").Device(tensorflow::DEVICE_CPU), PlainBinaryOp<PlainOpKind::kSub>);
REGISTER_KERNEL_BUILDER(Name("HeMultiplyPlain").Device(tensorflow::DEVICE_CPU),
                        PlainBinaryOp<PlainOpKind::kMultiply>);

// ---- with per-ciphertext constants ---------------------------------------------

REGISTER_OP("HeMultiplyConstant")
    .Input("context: variant")
    .Input("a: variant")
    .Input("constants: float64")
    .Output("result: variant")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(1));
      return absl::OkStatus();
    })
    .Doc("a * constants, one constant for all slots of a ciphertext, broadcast over a's shape; rescaled.");

class MultiplyConstantOp : public OpKernel {
 public:
  explicit MultiplyConstantOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    const Tensor& constants = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    TensorShape shape;
    OP_REQUIRES_OK(ctx, BroadcastShapes(a.shape(), constants.shape(), &shape));
    OP_REQUIRES(ctx, shape == a.shape(),
                absl::InvalidArgumentError("HeMultiplyConstant: constants " + constants.shape().DebugString() +
                                           " do not broadcast to " + a.shape().DebugString()));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    const PublicContext& pc = *context->get();
    const BroadcastIndex index(constants.shape(), shape);
    const auto c = constants.flat<double>();
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, out->NumElements(), kCiphertextCost / 10, [&](std::int64_t i) {
                     result(i) = Wrap(pc, MultiplyConstant(pc, CiphertextAt(a, i).Get(pc), c(index(i))));
                   }));
  }
};

REGISTER_KERNEL_BUILDER(Name("HeMultiplyConstant").Device(tensorflow::DEVICE_CPU), MultiplyConstantOp);

}  // namespace he_tf
