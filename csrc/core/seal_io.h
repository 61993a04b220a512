// Saving SEAL objects to byte strings (loading bytes from elsewhere: seal_load.h).
#pragma once

#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "seal/context.h"
#include "seal/serialization.h"

namespace he_tf {

// zstd when SEAL was built with it (ours is), else zlib; used for everything
// that leaves the process except the variant encoding, where speed matters
// more. Loading reads the mode from SEAL's header, so bytes compressed with
// either still load.
inline seal::compr_mode_type DefaultCompression() { return seal::Serialization::compr_mode_default; }

template <class T>
std::string SaveToString(const T& obj, seal::compr_mode_type mode = DefaultCompression()) {
  std::string out(static_cast<std::size_t>(obj.save_size(mode)), '\0');
  const auto n = obj.save(reinterpret_cast<seal::seal_byte*>(out.data()), out.size(), mode);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Whether `bytes` start with a valid SEAL header of uncompressed members.
inline bool IsUncompressed(std::string_view bytes) {
  seal::Serialization::SEALHeader header;
  if (bytes.size() < sizeof header) return false;
  seal::Serialization::LoadHeader(reinterpret_cast<const seal::seal_byte*>(bytes.data()), bytes.size(), header, false);
  return seal::Serialization::IsValidHeader(header) && header.compr_mode == seal::compr_mode_type::none;
}

// Compresses bytes that SEAL saved with compr_mode_type::none, keeping their
// form (a seeded ciphertext stays seeded: it cannot be re-saved from the
// expanded object). Other bytes, already compressed, are returned as they are.
inline std::string Compress(std::string_view bytes, seal::compr_mode_type mode = DefaultCompression()) {
  using seal::Serialization;
  Serialization::SEALHeader header;
  constexpr std::size_t kHeaderSize = sizeof header;
  const auto* in = reinterpret_cast<const seal::seal_byte*>(bytes.data());
  if (mode == seal::compr_mode_type::none || bytes.size() < kHeaderSize) return std::string(bytes);
  Serialization::LoadHeader(in, bytes.size(), header, false);
  if (!Serialization::IsValidHeader(header) || header.compr_mode != seal::compr_mode_type::none ||
      header.size != bytes.size()) {
    return std::string(bytes);
  }
  const std::size_t members = bytes.size() - kHeaderSize;
  std::string out(kHeaderSize + Serialization::ComprSizeEstimate(members, mode), '\0');
  const auto n = Serialization::Save(
      [&](std::ostream& stream) { stream.write(bytes.data() + kHeaderSize, static_cast<std::streamsize>(members)); },
      static_cast<std::streamoff>(bytes.size()), reinterpret_cast<seal::seal_byte*>(out.data()), out.size(), mode,
      false);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace he_tf
