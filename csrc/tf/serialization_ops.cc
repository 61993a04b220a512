// Ciphertexts to and from tf.string tensors, one string per ciphertext.
#include <zlib.h>

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

// String layout: 8-byte key-set id, SEAL's (compressed) ciphertext bytes, CRC-32 of those bytes.
REGISTER_OP("HeSerialize")
    .Input("context: variant")
    .Input("a: variant")
    .Output("serialized: string")
    .SetShapeFn(SameShapeAsA)
    .Doc("One string per ciphertext, with SEAL's compression.");

REGISTER_OP("HeDeserialize")
    .Input("context: variant")
    .Input("serialized: string")
    .Input("scale: float64")
    .Attr("level: int = -1")
    .Output("result: variant")
    .SetShapeFn(SameShapeAsA)
    .Doc("Ciphertexts from HeSerialize strings, validated against the context; each must be at `level` and "
         "`scale` (the HETensor's, which travel separately; level -1 or scale 0: any).");

// zstd frames as SEAL writes them carry no checksum, so corrupted bytes can
// decompress to valid-looking ciphertexts: every string ends with a CRC-32 of its payload.
std::uint32_t Checksum(std::string_view payload) {
  return static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
}

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
                     std::string compact = v.Compact();  // own or loaded seeded bytes: no load needed
                     if (!compact.empty() && v.key_id() != id) v.Get(pc);  // throws, naming both key sets
                     std::string bytes(reinterpret_cast<const char*>(&id), sizeof id);
                     // A seeded ciphertext stays seeded: half the bytes before compression.
                     bytes += compact.empty() ? SaveCiphertext(v.Get(pc), DefaultCompression()) : Compress(compact);
                     const std::uint32_t crc = Checksum(std::string_view(bytes).substr(sizeof id));
                     bytes.append(reinterpret_cast<const char*>(&crc), sizeof crc);
                     strings(i) = std::move(bytes);
                   }));
  }
};

class DeserializeOp : public OpKernel {
 public:
  explicit DeserializeOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("level", &level_)); }

  void Compute(OpKernelContext* ctx) override {
    const PublicContextVariant* context;
    OP_REQUIRES_OK(ctx, GetScalarVariant(ctx, "context", &context));
    const Tensor& in = ctx->input(1);
    const Tensor& scale_input = ctx->input(2);
    OP_REQUIRES(ctx, scale_input.NumElements() == 1,
                absl::InvalidArgumentError("HeDeserialize: scale must be a scalar"));
    const double scale = scale_input.flat<double>()(0);
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, in.shape(), &out));
    const PublicContext& pc = *context->get();
    const auto strings = in.flat<tensorflow::tstring>();
    auto result = out->flat<tensorflow::Variant>();
    OP_REQUIRES_OK(ctx, ParallelForEach(ctx, in.NumElements(), kCiphertextCost / 10, [&](std::int64_t i) {
                     const tensorflow::tstring& s = strings(i);
                     std::uint64_t id = 0;
                     std::uint32_t crc = 0;
                     if (s.size() <= sizeof id + sizeof crc) {
                       throw std::invalid_argument("a serialized ciphertext is truncated");
                     }
                     std::memcpy(&id, s.data(), sizeof id);
                     if (id != pc.key_id()) {
                       throw std::invalid_argument("a serialized ciphertext belongs to another key set than the context");
                     }
                     const std::string_view payload(s.data() + sizeof id, s.size() - sizeof id - sizeof crc);
                     std::memcpy(&crc, payload.data() + payload.size(), sizeof crc);
                     if (crc != Checksum(payload)) {
                       throw std::invalid_argument("a serialized ciphertext is corrupted (checksum mismatch)");
                     }
                     seal::Ciphertext ct = LoadCiphertext(pc, payload);
                     CheckLevelAndScale(pc, ct, level_, scale, "a serialized ciphertext");
                     result(i) = Wrap(pc, std::move(ct));
                   }));
  }

 private:
  int level_;
};

REGISTER_KERNEL_BUILDER(Name("HeSerialize").Device(tensorflow::DEVICE_CPU), SerializeOp);
REGISTER_KERNEL_BUILDER(Name("HeDeserialize").Device(tensorflow::DEVICE_CPU), DeserializeOp);

}  // namespace he_tf
