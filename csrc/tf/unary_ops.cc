// Ops that map each ciphertext to one ciphertext: negation, squaring, level
// and scale management, rotations, slot sums and polynomials.
#include <functional>
#include <vector>

#include "core/arith.h"
#include "core/fixed_point.h"
#include "core/poly.h"
#include "core/rotate.h"
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

using CipherUnaryFn = std::function<seal::Ciphertext(const seal::Ciphertext&)>;

// Subclasses bind the per-ciphertext function to this call's inputs and
// attributes (no per-call state is stored on the kernel: calls may overlap).
class CipherUnaryOp : public OpKernel {
 public:
  CipherUnaryOp(OpKernelConstruction* c, std::int64_t cost) : OpKernel(c), cost_(cost) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    const PublicContext& pc = *context->get();
    CipherUnaryFn fn;
    OP_REQUIRES_OK(ctx, Bind(ctx, pc, &fn));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, a.shape(), &out));
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, a.NumElements(), cost_, [&](std::int64_t i) {
                     result(i) = Wrap(pc, fn(CiphertextAt(a, i).Get(pc)));
                   }));
  }

 protected:
  virtual absl::Status Bind(OpKernelContext* ctx, const PublicContext& pc, CipherUnaryFn* fn) const = 0;

 private:
  std::int64_t cost_;
};

// ---- without attributes --------------------------------------------------------

template <seal::Ciphertext (*kFn)(const PublicContext&, const seal::Ciphertext&)>
class SimpleUnaryOp : public CipherUnaryOp {
 public:
  explicit SimpleUnaryOp(OpKernelConstruction* c) : CipherUnaryOp(c, kCiphertextCost) {}

 protected:
  absl::Status Bind(OpKernelContext*, const PublicContext& pc, CipherUnaryFn* fn) const override {
    *fn = [&pc](const seal::Ciphertext& ct) { return kFn(pc, ct); };
    return absl::OkStatus();
  }
};

#define HE_SIMPLE_UNARY(op_name, Fn, doc)                                                                  \
  REGISTER_OP(op_name).Input("context: variant").Input("a: variant").Output("result: variant")            \
      .SetShapeFn(SameShapeAsA).Doc(doc);                                                                 \
  REGISTER_KERNEL_BUILDER(Name(op_name).Device(tensorflow::DEVICE_CPU), SimpleUnaryOp<Fn>)

HE_SIMPLE_UNARY("HeNegate", Negate, "-a.");
HE_SIMPLE_UNARY("HeSquare", Square, "a * a, relinearized and rescaled.");
HE_SIMPLE_UNARY("HeRelinearize", Relinearize, "Relinearizes a (size 3 -> 2).");
HE_SIMPLE_UNARY("HeRescale", Rescale, "Rescales a to the next level, dividing its scale by the dropped prime.");

// ---- with an integer attribute ---------------------------------------------------

REGISTER_OP("HeModSwitch")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("level: int >= 0")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Moves a down to `level` without changing its scale.");

REGISTER_OP("HeRotate")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("steps: int")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Rotates the slots of every ciphertext left by `steps` (negative: right), cyclically over all slots.");

REGISTER_OP("HeSumSlots")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("num_values: int >= 1")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Slot 0 of each result holds the sum of the first num_values slots (which must be followed by zeros), "
         "every other slot zero: for num_values > 1 a mask multiply clears the partial sums (one level).");

REGISTER_OP("HeRerandomize")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("flood_bits: int >= 0 = 0")
    .Output("result: variant")
    .SetIsStateful()  // randomized: never folded or deduplicated
    .SetShapeFn(SameShapeAsA)
    .Doc("a plus a fresh public-key encryption of zero at a's level and scale (same values, fresh randomness); "
         "flood_bits > 0 also adds noise uniform in [-2^flood_bits, 2^flood_bits] to every coefficient.");

template <class Fn>
class IntAttrUnaryOp : public CipherUnaryOp {
 public:
  IntAttrUnaryOp(OpKernelConstruction* c, const char* attr, std::int64_t cost) : CipherUnaryOp(c, cost) {
    OP_REQUIRES_OK(c, c->GetAttr(attr, &value_));
  }

 protected:
  absl::Status Bind(OpKernelContext*, const PublicContext& pc, CipherUnaryFn* fn) const override {
    const int value = value_;
    *fn = [&pc, value](const seal::Ciphertext& ct) { return Fn()(pc, ct, value); };
    return absl::OkStatus();
  }

 private:
  int value_;
};

struct ModSwitchFn {
  seal::Ciphertext operator()(const PublicContext& pc, const seal::Ciphertext& ct, int level) const {
    return ModSwitchTo(pc, ct, level);
  }
};
struct RotateFn {
  seal::Ciphertext operator()(const PublicContext& pc, const seal::Ciphertext& ct, int steps) const {
    return Rotate(pc, ct, steps);
  }
};
struct SumSlotsFn {
  seal::Ciphertext operator()(const PublicContext& pc, const seal::Ciphertext& ct, int n) const {
    return SumSlots(pc, ct, static_cast<std::size_t>(n));
  }
};

// Sanitizes a ciphertext before it leaves its evaluator: the encryption of
// zero re-randomizes both components (the mask component would otherwise be a
// fixed function of the inputs' and of the plaintext operands), the flooding
// (the conversions' mechanism, AddFixedPoint of zeros) hides the noise's low bits.
struct RerandomizeFn {
  seal::Ciphertext operator()(const PublicContext& pc, const seal::Ciphertext& ct, int flood_bits) const {
    pc.Level(ct);  // throws for ciphertexts of other parameters
    seal::Ciphertext zero;
    pc.encryptor().encrypt_zero(ct.parms_id(), zero);
    zero.scale() = ct.scale();
    seal::Ciphertext out = ct;
    pc.evaluator().add_inplace(out, zero);
    if (flood_bits > 0) {
      const std::int64_t nothing = 0;
      AddFixedPoint(pc, out, &nothing, 1, /*fraction_bits=*/0, flood_bits);
    }
    return out;
  }
};

class ModSwitchOp : public IntAttrUnaryOp<ModSwitchFn> {
 public:
  explicit ModSwitchOp(OpKernelConstruction* c) : IntAttrUnaryOp(c, "level", kCiphertextCost / 10) {}
};
class RotateOp : public IntAttrUnaryOp<RotateFn> {
 public:
  explicit RotateOp(OpKernelConstruction* c) : IntAttrUnaryOp(c, "steps", kCiphertextCost) {}
};
class SumSlotsOp : public IntAttrUnaryOp<SumSlotsFn> {
 public:
  explicit SumSlotsOp(OpKernelConstruction* c) : IntAttrUnaryOp(c, "num_values", kCiphertextCost * 10) {}
};
REGISTER_KERNEL_BUILDER(Name("HeModSwitch").Device(tensorflow::DEVICE_CPU), ModSwitchOp);
REGISTER_KERNEL_BUILDER(Name("HeRotate").Device(tensorflow::DEVICE_CPU), RotateOp);
class RerandomizeOp : public IntAttrUnaryOp<RerandomizeFn> {
 public:
  explicit RerandomizeOp(OpKernelConstruction* c) : IntAttrUnaryOp(c, "flood_bits", kCiphertextCost) {}
};
REGISTER_KERNEL_BUILDER(Name("HeSumSlots").Device(tensorflow::DEVICE_CPU), SumSlotsOp);
REGISTER_KERNEL_BUILDER(Name("HeRerandomize").Device(tensorflow::DEVICE_CPU), RerandomizeOp);

// ---- with tensor inputs ---------------------------------------------------------

REGISTER_OP("HeAlign")
    .Input("context: variant")
    .Input("a: variant")
    .Input("scale: float64")
    .Attr("level: int >= 0")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Brings a to exactly (level, scale): modulus switching, and when the scale differs a multiplication by 1 "
         "at the compensating scale followed by a rescale (one level).");

class AlignOp : public CipherUnaryOp {
 public:
  explicit AlignOp(OpKernelConstruction* c) : CipherUnaryOp(c, kCiphertextCost / 10) {
    OP_REQUIRES_OK(c, c->GetAttr("level", &level_));
  }

 protected:
  absl::Status Bind(OpKernelContext* ctx, const PublicContext& pc, CipherUnaryFn* fn) const override {
    const Tensor& scale = ctx->input(2);
    if (scale.NumElements() != 1) return absl::InvalidArgumentError("HeAlign: scale must be a scalar");
    const double s = scale.flat<double>()(0);
    const int level = level_;
    *fn = [&pc, level, s](const seal::Ciphertext& ct) { return AlignTo(pc, ct, level, s); };
    return absl::OkStatus();
  }

 private:
  int level_;
};
REGISTER_KERNEL_BUILDER(Name("HeAlign").Device(tensorflow::DEVICE_CPU), AlignOp);

REGISTER_OP("HePolyval")
    .Input("context: variant")
    .Input("a: variant")
    .Input("coeffs: float64")
    .Attr("num_values: int >= 1")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("sum_i coeffs[i] * a^i (coeffs in increasing degree) at depth ceil(log2(degree)) + 1; the constant term "
         "fills the first num_values slots.");

class PolyvalOp : public CipherUnaryOp {
 public:
  explicit PolyvalOp(OpKernelConstruction* c) : CipherUnaryOp(c, kCiphertextCost * 10) {
    OP_REQUIRES_OK(c, c->GetAttr("num_values", &num_values_));
  }

 protected:
  absl::Status Bind(OpKernelContext* ctx, const PublicContext& pc, CipherUnaryFn* fn) const override {
    const Tensor& coeffs = ctx->input(2);
    if (coeffs.dims() != 1 || coeffs.NumElements() == 0) {
      return absl::InvalidArgumentError("HePolyval: coeffs must be a non-empty vector");
    }
    std::vector<double> c(coeffs.flat<double>().data(), coeffs.flat<double>().data() + coeffs.NumElements());
    const std::size_t n = static_cast<std::size_t>(num_values_);
    *fn = [&pc, c = std::move(c), n](const seal::Ciphertext& ct) { return PolyEval(pc, ct, c, n); };
    return absl::OkStatus();
  }

 private:
  int num_values_;
};
REGISTER_KERNEL_BUILDER(Name("HePolyval").Device(tensorflow::DEVICE_CPU), PolyvalOp);

}  // namespace he_tf
