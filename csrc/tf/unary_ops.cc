// Ops that map each ciphertext to one ciphertext: negation, squaring, level
// and scale management, rotations, slot sums and polynomials.
#include <vector>

#include "core/arith.h"
#include "core/fixed_point.h"
#include "core/poly.h"
#include "core/rotate.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_skeleton.h"

namespace he_tf {

using tensorflow::Tensor;

// ---- without attributes --------------------------------------------------------

using CipherUnaryFn = seal::Ciphertext (*)(const PublicContext&, const seal::Ciphertext&);

auto CipherUnary(const Call& call, CipherUnaryFn fn) {
  return MapCiphertexts(call, call.Ciphertexts("a"), kCiphertextCost,
                        [&pc = call.pc(), fn](const seal::Ciphertext& ct) { return fn(pc, ct); });
}

#define HE_SIMPLE_UNARY(op_name, Fn, doc)                                                                  \
  REGISTER_OP(#op_name).Input("context: variant").Input("a: variant").Output("result: variant")           \
      .SetShapeFn(SameShapeAsA).Doc(doc);                                                                 \
  auto op_name(const Call& call) { return CipherUnary(call, Fn); }                                        \
  HE_REGISTER_KERNEL(op_name)

HE_SIMPLE_UNARY(HeNegate, Negate, "-a.");
HE_SIMPLE_UNARY(HeSquare, Square, "a * a, relinearized and rescaled.");
HE_SIMPLE_UNARY(HeRelinearize, Relinearize, "Relinearizes a (size 3 -> 2).");
HE_SIMPLE_UNARY(HeRescale, Rescale, "Rescales a to the next level, dividing its scale by the dropped prime.");

// ---- with an integer attribute ---------------------------------------------------

using CipherIntFn = seal::Ciphertext (*)(const PublicContext&, const seal::Ciphertext&, int);

// fn(ciphertext, the op's integer attribute `attr`) for every ciphertext of a.
auto CipherIntAttr(const Call& call, const char* attr, CipherIntFn fn, std::int64_t cost) {
  const Tensor& a = call.Ciphertexts("a");
  const int value = call.Attr<int>(attr);
  return MapCiphertexts(call, a, cost,
                        [&pc = call.pc(), fn, value](const seal::Ciphertext& ct) { return fn(pc, ct, value); });
}

REGISTER_OP("HeModSwitch")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("level: int >= 0")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Moves a down to `level` without changing its scale.");

auto HeModSwitch(const Call& call) { return CipherIntAttr(call, "level", ModSwitchTo, kCiphertextCost / 10); }
HE_REGISTER_KERNEL(HeModSwitch);

REGISTER_OP("HeRotate")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("steps: int")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Rotates the slots of every ciphertext left by `steps` (negative: right), cyclically over all slots.");

auto HeRotate(const Call& call) { return CipherIntAttr(call, "steps", Rotate, kCiphertextCost); }
HE_REGISTER_KERNEL(HeRotate);

REGISTER_OP("HeSumSlots")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("num_values: int >= 1")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Slot 0 of each result holds the sum of the first num_values slots (which must be followed by zeros), "
         "every other slot zero: for num_values > 1 a mask multiply clears the partial sums (one level).");

seal::Ciphertext SumSlotsTo(const PublicContext& pc, const seal::Ciphertext& ct, int n) {
  return SumSlots(pc, ct, static_cast<std::size_t>(n));
}
auto HeSumSlots(const Call& call) { return CipherIntAttr(call, "num_values", SumSlotsTo, kCiphertextCost * 10); }
HE_REGISTER_KERNEL(HeSumSlots);

// Sanitizes a ciphertext before it leaves its evaluator: the encryption of
// zero re-randomizes both components (the mask component would otherwise be a
// fixed function of the inputs' and of the plaintext operands), the flooding
// (the conversions' mechanism, AddFixedPoint of zeros) hides the noise's low bits.
seal::Ciphertext Rerandomize(const PublicContext& pc, const seal::Ciphertext& ct, int flood_bits) {
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

REGISTER_OP("HeRerandomize")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("flood_bits: int >= 0 = 0")
    .Output("result: variant")
    .SetIsStateful()  // randomized: never folded or deduplicated
    .SetShapeFn(SameShapeAsA)
    .Doc("a plus a fresh public-key encryption of zero at a's level and scale (same values, fresh randomness); "
         "flood_bits > 0 also adds noise uniform in [-2^flood_bits, 2^flood_bits] to every coefficient.");

auto HeRerandomize(const Call& call) { return CipherIntAttr(call, "flood_bits", Rerandomize, kCiphertextCost); }
HE_REGISTER_KERNEL(HeRerandomize);

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

auto HeAlign(const Call& call) {
  const Tensor& a = call.Ciphertexts("a");
  const double scale = call.Scalar("scale");
  const int level = call.Attr<int>("level");
  return MapCiphertexts(call, a, kCiphertextCost / 10, [&pc = call.pc(), level, scale](const seal::Ciphertext& ct) {
    return AlignTo(pc, ct, level, scale);
  });
}
HE_REGISTER_KERNEL(HeAlign);

REGISTER_OP("HePolyval")
    .Input("context: variant")
    .Input("a: variant")
    .Input("coeffs: float64")
    .Attr("num_values: int >= 1")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("sum_i coeffs[i] * a^i (coeffs in increasing degree) at depth ceil(log2(degree)) + 1; the constant term "
         "fills the first num_values slots.");

auto HePolyval(const Call& call) {
  const Tensor& a = call.Ciphertexts("a");
  const Tensor& coeffs = call.Input("coeffs");
  if (coeffs.dims() != 1 || coeffs.NumElements() == 0) throw std::invalid_argument("coeffs must be a non-empty vector");
  const double* first = coeffs.flat<double>().data();
  std::vector<double> c(first, first + coeffs.NumElements());
  const auto n = static_cast<std::size_t>(call.Attr<int>("num_values"));
  return MapCiphertexts(call, a, kCiphertextCost * 10, [&pc = call.pc(), c = std::move(c), n](const seal::Ciphertext& ct) {
    return PolyEval(pc, ct, c, n);
  });
}
HE_REGISTER_KERNEL(HePolyval);

}  // namespace he_tf
