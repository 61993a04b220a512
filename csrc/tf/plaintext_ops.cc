// Encoding values into CKKS plaintexts (at a chosen level and scale) and back.
#include "core/arith.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_skeleton.h"

namespace he_tf {

using tensorflow::Tensor;
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

auto HeEncode(const Call& call) {
  const Tensor& values = call.Input("values");
  const Tensor& scale = call.Input("scale");
  if (values.dims() < 1 || scale.NumElements() != 1) {
    throw std::invalid_argument("values need a slot axis last and scale must be a scalar");
  }
  const PublicContext& pc = call.pc();
  return EachInputRow<double>(call, "values", kCiphertextCost / 10,
                              [&pc, parms = ParmsAtLevel(pc, call.Attr<int>("level")),
                               s = scale.flat<double>()(0)](const double* row, std::size_t n) {
                                return tensorflow::Variant(PlaintextVariant(pc.key_id(), EncodeAt(pc, row, n, parms, s)));
                              });
}

auto HeDecode(const Call& call) {
  const Tensor& plains = call.Input("plaintexts");
  const PublicContext& pc = call.pc();
  const int n = call.Attr<int>("num_values");
  if (static_cast<std::size_t>(n) > pc.slot_count()) throw std::invalid_argument("num_values exceeds the slot count");
  return EachRow<double>(plains.shape(), n, kCiphertextCost / 10, [&pc, &plains, n](std::int64_t i, double* values) {
    const tensorflow::Variant& v = plains.flat<tensorflow::Variant>()(i);
    const PlaintextVariant* p = v.get<PlaintextVariant>();
    if (p == nullptr) throw std::invalid_argument("expected he_tf plaintexts, got '" + v.TypeName() + "'");
    thread_local std::vector<double> slots;
    pc.encoder().decode(p->Get(pc), slots);
    std::copy(slots.begin(), slots.begin() + n, values);
  });
}

HE_REGISTER_KERNEL(HeEncode);
HE_REGISTER_KERNEL(HeDecode);

}  // namespace he_tf
