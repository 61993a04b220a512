// Encrypt and decrypt: float64 values <-> one ciphertext per row of the
// innermost axis (the Python layer arranges the packed axis there).
#include "core/ckks.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_skeleton.h"

namespace he_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("HeEncrypt")
    .Input("context: variant")
    .Input("values: float64")
    .Attr("complex: bool = false")
    .Output("ciphertexts: variant")
    .SetIsStateful()  // randomized: never folded or deduplicated
    .SetShapeFn([](InferenceContext* c) { return RowsShapeFn(c, 1); })
    .Doc("Encrypts values[..., n] into ciphertexts[...], n values in the slots of each. complex: each row is "
         "the real parts of n / 2 slots, then their imaginary parts (n even).");

REGISTER_OP("HeEncryptSymmetric")
    .Input("context: variant")
    .Input("secret_key: variant")
    .Input("values: float64")
    .Attr("complex: bool = false")
    .Output("ciphertexts: variant")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) { return RowsShapeFn(c, 2); })
    .Doc("Like HeEncrypt with the secret key: the ciphertexts serialize at about half the size (seeded).");

REGISTER_OP("HeDecrypt")
    .Input("context: variant")
    .Input("secret_key: variant")
    .Input("ciphertexts: variant")
    .Attr("num_values: int >= 0")
    .Attr("complex: bool = false")
    .Output("values: float64")
    .SetShapeFn([](InferenceContext* c) { return SlotValuesShapeFn(c, 2); })
    .Doc("Decrypts ciphertexts[...] into values[..., num_values], the first num_values slots of each. complex: "
         "the real parts of the first num_values / 2 slots, then their imaginary parts (num_values even).");

REGISTER_OP("HeCheckLevelAndScale")
    .Input("context: variant")
    .Input("ciphertexts: variant")
    .Input("scale: float64")
    .Attr("level: int")
    .Output("checked: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("The ciphertexts, once each is loaded and found at `level` and `scale` (what their HETensor declares). "
         "Ciphertexts that arrived from elsewhere pass through it before they are decrypted.");

class CheckLevelAndScaleOp : public OpKernel {
 public:
  explicit CheckLevelAndScaleOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("level", &level_));
  }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& cts = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, cts, "ciphertexts"));
    const Tensor& scale = ctx->input(2);
    OP_REQUIRES(ctx, scale.NumElements() == 1, absl::InvalidArgumentError(type_string() + ": scale must be a scalar"));
    const PublicContext& pc = *context->get();
    const double s = scale.flat<double>()(0);
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, cts.NumElements(), kCiphertextCost / 100, [&](std::int64_t i) {
                     CheckLevelAndScale(pc, CiphertextAt(cts, i).Get(pc), level_, s, "decrypt");
                   }));
    ctx->set_output(0, cts);
  }

 private:
  int level_;
};

// Rows of 2n values for n complex slots (real parts, then imaginary parts) when `complex`.
std::size_t SlotsOfRow(std::size_t n, bool complex, const char* what) {
  if (complex && n % 2 != 0) {
    throw std::invalid_argument(std::string(what) + ": complex rows hold real then imaginary parts, an even "
                                "number of values; got " + std::to_string(n));
  }
  return complex ? n / 2 : n;
}

auto HeEncrypt(const Call& call) {
  const bool complex = call.Attr<bool>("complex");
  return EachInputRow<double>(call, "values", kCiphertextCost,
                              [&pc = call.pc(), complex](const double* row, std::size_t n) {
                                const std::size_t slots = SlotsOfRow(n, complex, "encrypt");
                                return Encrypt(pc, row, slots, complex ? row + slots : nullptr);
                              });
}

auto HeEncryptSymmetric(const Call& call) {
  const SecretKey& sk = call.secret_key();
  const bool complex = call.Attr<bool>("complex");
  return EachInputRow<double>(call, "values", kCiphertextCost,
                              [&pc = call.pc(), &sk, complex](const double* row, std::size_t n) {
                                const std::size_t slots = SlotsOfRow(n, complex, "encrypt");
                                return tensorflow::Variant(CiphertextVariant::FromOwnBytes(
                                    pc.key_id(), EncryptSymmetric(pc, sk, row, slots, complex ? row + slots : nullptr)));
                              });
}

auto HeDecrypt(const Call& call) {
  const PublicContext& pc = call.pc();
  const SecretKey& sk = call.secret_key();
  CheckSameKeySet(pc, sk);
  const Tensor& cts = call.Ciphertexts("ciphertexts");
  const auto n = call.Attr<std::int64_t>("num_values");
  const bool complex = call.Attr<bool>("complex");
  const std::size_t slots = SlotsOfRow(static_cast<std::size_t>(n), complex, "decrypt");
  return EachRow<double>(cts.shape(), n, kCiphertextCost, [&pc, &sk, &cts, slots, complex](std::int64_t i, double* values) {
    Decrypt(pc, sk, CiphertextAt(cts, i).Get(pc), values, slots, complex ? values + slots : nullptr);
  });
}

HE_REGISTER_KERNEL(HeEncrypt);
HE_REGISTER_KERNEL(HeEncryptSymmetric);
HE_REGISTER_KERNEL(HeDecrypt);
REGISTER_KERNEL_BUILDER(Name("HeCheckLevelAndScale").Device(tensorflow::DEVICE_CPU), CheckLevelAndScaleOp);

}  // namespace he_tf
