// The bridge between ciphertexts and secret shares: fixed-point ring values
// (int64 as Z_2^64, value = v / 2^fraction_bits) encoded, added, encrypted and
// decrypted exactly, and cryptographic randomness for masks and shares.
#include "core/fixed_point.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_util.h"
#include "tf/kernel_util.h"

namespace he_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("HeRandomRing")
    .Input("shape: int64")
    .Output("values: int64")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle out;
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(0, &out));
      c->set_output(0, out);
      return absl::OkStatus();
    })
    .Doc("Integers uniform over all of Z_2^64 from a cryptographic PRNG (SEAL's Blake2xb, seeded by the OS).");

REGISTER_OP("HeAddFixedPoint")
    .Input("context: variant")
    .Input("ciphertexts: variant")
    .Input("values: int64")
    .Attr("fraction_bits: int >= 0")
    .Attr("flood_bits: int >= 0 = 0")
    .Output("result: variant")
    .SetIsStateful()  // flooding is randomized
    .SetShapeFn(SameShapeAsA)
    .Doc("ciphertexts[...] + values[..., n] (fixed point, encoded exactly at each ciphertext's level and scale); "
         "flood_bits > 0 adds uniform noise in [-2^flood_bits, 2^flood_bits] to every coefficient.");

REGISTER_OP("HeEncryptFixedPoint")
    .Input("context: variant")
    .Input("values: int64")
    .Attr("fraction_bits: int >= 0")
    .Output("ciphertexts: variant")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) { return RowsShapeFn(c, 1); })
    .Doc("Encrypts fixed-point values[..., n] exactly at the top level: n values per ciphertext.");

REGISTER_OP("HeDecryptFixedPoint")
    .Input("context: variant")
    .Input("secret_key: variant")
    .Input("ciphertexts: variant")
    .Attr("num_values: int >= 0")
    .Attr("fraction_bits: int >= 0")
    .Output("values: int64")
    .SetShapeFn([](InferenceContext* c) { return SlotValuesShapeFn(c, 2); })
    .Doc("Decrypts ciphertexts[...] to round(value * 2^fraction_bits) mod 2^64, the first num_values slots.");

class RandomRingOp : public OpKernel {
 public:
  explicit RandomRingOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    TensorShape shape;
    OP_REQUIRES_OK(ctx, tensorflow::tensor::MakeShape(ctx->input(0), &shape));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    OP_REQUIRES_OK(ctx, Guard(ctx, [&] {
                     SecureRandom(out->flat<std::int64_t>().data(), static_cast<std::size_t>(out->NumElements()));
                   }));
  }
};

// Checks that values is [ciphertext shape..., n] and returns n.
absl::Status RowLength(OpKernelContext* ctx, const Tensor& cts, const Tensor& values, std::int64_t* n) {
  TensorShape outer = values.shape();
  if (values.dims() < 1 || (outer.RemoveLastDims(1), outer) != cts.shape()) {
    return absl::InvalidArgumentError(ctx->op_kernel().type_string() + ": values of shape " +
                                      values.shape().DebugString() + " must be the ciphertexts' shape " +
                                      cts.shape().DebugString() + " plus a slot axis");
  }
  *n = values.dim_size(values.dims() - 1);
  return absl::OkStatus();
}

class AddFixedPointOp : public OpKernel {
 public:
  explicit AddFixedPointOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("fraction_bits", &fraction_bits_));
    OP_REQUIRES_OK(c, c->GetAttr("flood_bits", &flood_bits_));
  }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const PublicContext& pc = *context->get();
    const Tensor& cts = ctx->input(1);
    const Tensor& values = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, cts, "ciphertexts"));
    std::int64_t n;
    OP_REQUIRES_OK(ctx, RowLength(ctx, cts, values, &n));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, cts.shape(), &out));
    const std::int64_t* rows = values.flat<std::int64_t>().data();
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, cts.NumElements(), kCiphertextCost, [&](std::int64_t i) {
                     seal::Ciphertext ct = CiphertextAt(cts, i).Get(pc);
                     AddFixedPoint(pc, ct, rows + i * n, static_cast<std::size_t>(n), fraction_bits_, flood_bits_);
                     result(i) = Wrap(pc, std::move(ct));
                   }));
  }

 private:
  int fraction_bits_, flood_bits_;
};

class EncryptFixedPointOp : public OpKernel {
 public:
  explicit EncryptFixedPointOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("fraction_bits", &fraction_bits_));
  }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const PublicContext& pc = *context->get();
    EncryptRows<std::int64_t>(ctx, 1, [&](const std::int64_t* row, std::size_t n) {
      return Wrap(pc, EncryptFixedPoint(pc, row, n, fraction_bits_));
    });
  }

 private:
  int fraction_bits_;
};

class DecryptFixedPointOp : public OpKernel {
 public:
  explicit DecryptFixedPointOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("num_values", &n_));
    OP_REQUIRES_OK(c, c->GetAttr("fraction_bits", &fraction_bits_));
  }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    const SecretKeyVariant* secret;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "secret_key", &secret));
    const PublicContext& pc = *context->get();
    const SecretKey& sk = *secret->get();
    const Tensor& cts = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, cts, "ciphertexts"));
    TensorShape out_shape = cts.shape();
    out_shape.AddDim(n_);
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, out_shape, &out));
    std::int64_t* values = out->flat<std::int64_t>().data();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, cts.NumElements(), kCiphertextCost, [&](std::int64_t i) {
                     DecryptFixedPoint(pc, sk, CiphertextAt(cts, i).Get(pc), fraction_bits_, values + i * n_,
                                       static_cast<std::size_t>(n_));
                   }));
  }

 private:
  std::int64_t n_;
  int fraction_bits_;
};

REGISTER_KERNEL_BUILDER(Name("HeRandomRing").Device(tensorflow::DEVICE_CPU), RandomRingOp);
REGISTER_KERNEL_BUILDER(Name("HeAddFixedPoint").Device(tensorflow::DEVICE_CPU), AddFixedPointOp);
REGISTER_KERNEL_BUILDER(Name("HeEncryptFixedPoint").Device(tensorflow::DEVICE_CPU), EncryptFixedPointOp);
REGISTER_KERNEL_BUILDER(Name("HeDecryptFixedPoint").Device(tensorflow::DEVICE_CPU), DecryptFixedPointOp);

}  // namespace he_tf
