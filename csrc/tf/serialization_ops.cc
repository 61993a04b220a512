// Ciphertexts to and from tf.string tensors, one string per ciphertext.
#include <cstring>

#include "core/ckks.h"
#include "core/seal_io.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_util.h"

namespace he_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;

// String layout: 8-byte key-set id, then SEAL's (compressed) ciphertext bytes.
REGISTER_OP("HeSerialize")
    .Input("context: variant")
    .Input("a: variant")
    .Output("serialized: string")
    .SetShapeFn(SameShapeAsA)
    .Doc("One string per ciphertext, with SEAL's compression.");

REGISTER_OP("HeDeserialize")
    .Input("context: variant")
    .Input("serialized: string")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Ciphertexts from HeSerialize strings, validated against the context.");

class SerializeOp : public OpKernel {
 public:
  explicit SerializeOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& a = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckCiphertextInput(ctx, a, "a"));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, a.shape(), &out));
    const PublicContext& pc = *context->get();
    const std::uint64_t id = pc.key_id();
    auto strings = out->flat<tensorflow::tstring>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, a.NumElements(), kCiphertextCost / 10, [&](std::int64_t i) {
                     const CiphertextVariant& v = CiphertextAt(a, i);
                     const seal::Ciphertext& ct = v.Get(pc);
                     std::string compact = v.Compact();
                     std::string bytes(reinterpret_cast<const char*>(&id), sizeof id);
                     // A seeded ciphertext stays seeded: half the bytes before compression.
                     bytes += compact.empty() ? SaveCiphertext(ct, DefaultCompression()) : Compress(compact);
                     strings(i) = std::move(bytes);
                   }));
  }
};

class DeserializeOp : public OpKernel {
 public:
  explicit DeserializeOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& in = ctx->input(1);
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, in.shape(), &out));
    const PublicContext& pc = *context->get();
    const auto strings = in.flat<tensorflow::tstring>();
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, in.NumElements(), kCiphertextCost / 10, [&](std::int64_t i) {
                     const tensorflow::tstring& s = strings(i);
                     std::uint64_t id = 0;
                     if (s.size() <= sizeof id) throw std::invalid_argument("a serialized ciphertext is truncated");
                     std::memcpy(&id, s.data(), sizeof id);
                     if (id != pc.key_id()) {
                       throw std::invalid_argument("a serialized ciphertext belongs to another key set than the context");
                     }
                     result(i) = Wrap(pc, LoadCiphertext(pc, std::string_view(s.data() + sizeof id, s.size() - sizeof id)));
                   }));
  }
};

REGISTER_KERNEL_BUILDER(Name("HeSerialize").Device(tensorflow::DEVICE_CPU), SerializeOp);
REGISTER_KERNEL_BUILDER(Name("HeDeserialize").Device(tensorflow::DEVICE_CPU), DeserializeOp);

}  // namespace he_tf
