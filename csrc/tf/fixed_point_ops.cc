// The bridge between ciphertexts and secret shares: fixed-point ring values
// (int64 as Z_2^64, value = v / 2^fraction_bits) encoded, added, encrypted and
// decrypted exactly, and cryptographic randomness for masks and shares.
#include "core/fixed_point.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_util.h"
#include "tf/kernel_skeleton.h"

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

auto HeAddFixedPoint(const Call& call) {
  const Tensor& cts = call.Ciphertexts("ciphertexts");
  const Tensor& values = call.Input("values");
  std::int64_t n;
  Check(RowLength(call.ctx(), cts, values, &n));
  return MapCiphertexts(call, cts, kCiphertextCost,
                        [&pc = call.pc(), rows = values.flat<std::int64_t>().data(), n,
                         fraction_bits = call.Attr<int>("fraction_bits"),
                         flood_bits = call.Attr<int>("flood_bits")](const seal::Ciphertext& in, std::int64_t i) {
                          seal::Ciphertext ct = in;
                          AddFixedPoint(pc, ct, rows + i * n, static_cast<std::size_t>(n), fraction_bits, flood_bits);
                          return ct;
                        });
}

auto HeEncryptFixedPoint(const Call& call) {
  return EachInputRow<std::int64_t>(
      call, "values", kCiphertextCost,
      [&pc = call.pc(), fraction_bits = call.Attr<int>("fraction_bits")](const std::int64_t* row, std::size_t n) {
        return EncryptFixedPoint(pc, row, n, fraction_bits);
      });
}

auto HeDecryptFixedPoint(const Call& call) {
  const SecretKey& sk = call.secret_key();
  const Tensor& cts = call.Ciphertexts("ciphertexts");
  const auto n = call.Attr<std::int64_t>("num_values");
  return EachRow<std::int64_t>(cts.shape(), n, kCiphertextCost,
                               [&pc = call.pc(), &sk, &cts, n, fraction_bits = call.Attr<int>("fraction_bits")](
                                   std::int64_t i, std::int64_t* values) {
                                 DecryptFixedPoint(pc, sk, CiphertextAt(cts, i).Get(pc), fraction_bits, values,
                                                   static_cast<std::size_t>(n));
                               });
}

REGISTER_KERNEL_BUILDER(Name("HeRandomRing").Device(tensorflow::DEVICE_CPU), RandomRingOp);
HE_REGISTER_KERNEL(HeAddFixedPoint);
HE_REGISTER_KERNEL(HeEncryptFixedPoint);
HE_REGISTER_KERNEL(HeDecryptFixedPoint);

}  // namespace he_tf
