// Elementwise ciphertext arithmetic: with ciphertexts (NumPy broadcasting on
// the ciphertext axes), with plaintext rows and with per-ciphertext constants.
#include <vector>

#include "core/arith.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_skeleton.h"

namespace he_tf {

using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;

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

using CipherBinaryFn = seal::Ciphertext (*)(const PublicContext&, const seal::Ciphertext&, const seal::Ciphertext&);

auto CipherBinary(const Call& call, CipherBinaryFn fn, std::int64_t cost) {
  const Tensor& a = call.Ciphertexts("a");
  const Tensor& b = call.Ciphertexts("b");
  TensorShape shape;
  Check(BroadcastShapes(a.shape(), b.shape(), &shape));
  return EachElement(call, shape, cost,
                     [&pc = call.pc(), &a, &b, fn, ia = BroadcastIndex(a.shape(), shape),
                      ib = BroadcastIndex(b.shape(), shape)](std::int64_t i) {
                       return fn(pc, CiphertextAt(a, ia(i)).Get(pc), CiphertextAt(b, ib(i)).Get(pc));
                     });
}

auto HeAdd(const Call& call) { return CipherBinary(call, Add, kCiphertextCost / 100); }
auto HeSub(const Call& call) { return CipherBinary(call, Sub, kCiphertextCost / 100); }
auto HeMultiply(const Call& call) { return CipherBinary(call, Multiply, kCiphertextCost); }
HE_REGISTER_KERNEL(HeAdd);
HE_REGISTER_KERNEL(HeSub);
HE_REGISTER_KERNEL(HeMultiply);

// ---- with plaintext rows -----------------------------------------------------

#define HE_PLAIN_BINARY_OP(op_name, doc)                                              \
  REGISTER_OP(op_name)                                                             \
      .Input("context: variant")                                                   \
      .Input("a: variant")                                                         \
      .Input("plain: float64")                                                     \
      .Attr("complex: bool = false")                                               \
      .Output("result: variant")                                                   \
      .SetShapeFn(SameShapeAsA)                                                    \
      .Doc(doc)

HE_PLAIN_BINARY_OP("HeAddPlain", "a + plain, plain[..., n] broadcast over a's shape; n values per ciphertext.");
HE_PLAIN_BINARY_OP("HeSubPlain", "a - plain, plain[..., n] broadcast over a's shape.");
HE_PLAIN_BINARY_OP("HeMultiplyPlain", "a * plain, rescaled (scale unchanged); plain[..., n] broadcast over a.");

using PlainBinaryFn = seal::Ciphertext (*)(const PublicContext&, const seal::Ciphertext&, const seal::Plaintext&);

// Each distinct plaintext row is encoded once, at the ciphertexts' level and
// the scale the operation needs, then applied to every ciphertext it
// broadcasts to. `complex`: rows of 2n values are n complex slots, real parts then imaginary parts.
auto PlainBinary(const Call& call, PlainBinaryFn fn, bool rescales) {
  const Tensor& a = call.Ciphertexts("a");
  const Tensor& plain = call.Input("plain");
  if (plain.dims() < 1) throw std::invalid_argument("plain needs a last axis of slot values");
  TensorShape rows = plain.shape();
  const std::int64_t n = rows.dim_size(rows.dims() - 1);
  const bool complex = call.Attr<bool>("complex");
  if (complex && n % 2 != 0) {
    throw std::invalid_argument("complex plaintext rows hold real then imaginary parts, an even number of "
                                "values; got " + std::to_string(n));
  }
  const std::int64_t slots = complex ? n / 2 : n;
  rows.RemoveLastDims(1);
  TensorShape shape;
  Check(BroadcastShapes(a.shape(), rows, &shape));
  if (shape != a.shape()) {
    throw std::invalid_argument("plaintext rows " + rows.DebugString() +
                                " do not broadcast to the ciphertexts' shape " + a.shape().DebugString());
  }
  const PublicContext& pc = call.pc();
  std::vector<seal::Plaintext> encoded;
  if (a.NumElements() > 0) {
    const seal::Ciphertext& first = CiphertextAt(a, 0).Get(pc);
    const double scale = rescales ? RescalePrime(pc, first) : first.scale();
    if (rescales) CheckCanRescale(pc, first, "multiply");
    encoded.resize(rows.num_elements());
    const double* values = plain.flat<double>().data();
    Check(ParallelForEach(call.ctx(), rows.num_elements(), kCiphertextCost / 10, [&](std::int64_t r) {
      const double* row = values + r * n;
      encoded[r] = EncodeAt(pc, row, static_cast<std::size_t>(slots), first.parms_id(), scale,
                            complex ? row + slots : nullptr);
    }));
  }
  return MapCiphertexts(call, a, kCiphertextCost / 10,
                        [&pc, fn, encoded = std::move(encoded), row_of = BroadcastIndex(rows, shape)](
                            const seal::Ciphertext& ct, std::int64_t i) { return fn(pc, ct, encoded[row_of(i)]); });
}

auto HeAddPlain(const Call& call) { return PlainBinary(call, AddPlain, false); }
auto HeSubPlain(const Call& call) { return PlainBinary(call, SubPlain, false); }
auto HeMultiplyPlain(const Call& call) { return PlainBinary(call, MultiplyPlain, true); }
HE_REGISTER_KERNEL(HeAddPlain);
HE_REGISTER_KERNEL(HeSubPlain);
HE_REGISTER_KERNEL(HeMultiplyPlain);

// ---- with per-ciphertext constants ---------------------------------------------

REGISTER_OP("HeMultiplyConstant")
    .Input("context: variant")
    .Input("a: variant")
    .Input("constants: float64")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("a * constants, one constant for all slots of a ciphertext, broadcast over a's shape; rescaled.");

auto HeMultiplyConstant(const Call& call) {
  const Tensor& a = call.Ciphertexts("a");
  const Tensor& constants = call.Input("constants");
  TensorShape shape;
  Check(BroadcastShapes(a.shape(), constants.shape(), &shape));
  if (shape != a.shape()) {
    throw std::invalid_argument("constants " + constants.shape().DebugString() + " do not broadcast to " +
                                a.shape().DebugString());
  }
  return MapCiphertexts(call, a, kCiphertextCost / 10,
                        [&pc = call.pc(), c = constants.flat<double>(), index = BroadcastIndex(constants.shape(), shape)](
                            const seal::Ciphertext& ct, std::int64_t i) { return MultiplyConstant(pc, ct, c(index(i))); });
}
HE_REGISTER_KERNEL(HeMultiplyConstant);

}  // namespace he_tf
