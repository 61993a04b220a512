// Ciphertexts to and from tf.string tensors, one string per ciphertext.
#include <zlib.h>

#include <cstring>

#include "core/ckks.h"
#include "core/residues.h"
#include "core/seal_io.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_skeleton.h"

namespace he_tf {

using tensorflow::Tensor;

// String layout: 8-byte key-set id, the ciphertext's bytes (SEAL's, compressed, or the residue
// encoding of core/residues.h), CRC-32 of those bytes.
REGISTER_OP("HeSerialize")
    .Input("context: variant")
    .Input("a: variant")
    .Attr("encoding: {'zstd', 'residues'} = 'zstd'")
    .Output("serialized: string")
    .SetShapeFn(SameShapeAsA)
    .Doc("One string per ciphertext: with SEAL's compression (zstd), or every residue in its prime's bit width "
         "(residues: as small, several times faster to write and read).");

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

auto HeSerialize(const Call& call) {
  const Tensor& a = call.Ciphertexts("a");
  const bool residues = call.Attr<std::string>("encoding") == "residues";
  return EachElement(call, a.shape(), kCiphertextCost / 10, [&pc = call.pc(), &a, residues](std::int64_t i) {
    const std::uint64_t id = pc.key_id();
    const CiphertextVariant& v = CiphertextAt(a, i);
    std::string compact = v.Compact();  // own or loaded seeded bytes: no load needed
    if (!compact.empty() && v.key_id() != id) v.Get(pc);  // throws, naming both key sets
    std::string bytes(reinterpret_cast<const char*>(&id), sizeof id);
    // A seeded ciphertext stays seeded: half the bytes before compression.
    if (!residues) {
      bytes += compact.empty() ? SaveCiphertext(v.Get(pc), DefaultCompression()) : Compress(compact);
    } else {
      if (compact.empty()) compact = SaveCiphertext(v.Get(pc), seal::compr_mode_type::none);
      // Seeded bytes that arrived compressed stay as they are (they load either way).
      bytes += IsUncompressed(compact) ? EncodeResidues(pc.seal_context(), compact) : compact;
    }
    const std::uint32_t crc = Checksum(std::string_view(bytes).substr(sizeof id));
    bytes.append(reinterpret_cast<const char*>(&crc), sizeof crc);
    return bytes;
  });
}

auto HeDeserialize(const Call& call) {
  const Tensor& in = call.Input("serialized");
  const double scale = call.Scalar("scale");
  return EachElement(call, in.shape(), kCiphertextCost / 10,
                     [&pc = call.pc(), strings = in.flat<tensorflow::tstring>(), scale,
                      level = call.Attr<int>("level")](std::int64_t i) {
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
                       CheckLevelAndScale(pc, ct, level, scale, "a serialized ciphertext");
                       return ct;
                     });
}

HE_REGISTER_KERNEL(HeSerialize);
HE_REGISTER_KERNEL(HeDeserialize);

}  // namespace he_tf
