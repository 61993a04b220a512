// Converting SEAL objects to and from byte strings, with SEAL's exceptions
// turned into std::invalid_argument that names the object.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "seal/context.h"
#include "seal/serialization.h"

namespace he_tf {

// Compression SEAL was built with (zlib here); used for everything that leaves
// the process except the variant encoding, where speed matters more.
inline seal::compr_mode_type DefaultCompression() { return seal::Serialization::compr_mode_default; }

template <class T>
std::string SaveToString(const T& obj, seal::compr_mode_type mode = DefaultCompression()) {
  std::string out(static_cast<std::size_t>(obj.save_size(mode)), '\0');
  const auto n = obj.save(reinterpret_cast<seal::seal_byte*>(out.data()), out.size(), mode);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

template <class T>
void LoadFromString(const seal::SEALContext& context, std::string_view bytes, T& obj, const char* what) {
  try {
    obj.load(context, reinterpret_cast<const seal::seal_byte*>(bytes.data()), bytes.size());
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("cannot load the ") + what + ": " + e.what() +
                                " (corrupted bytes, or made for other encryption parameters)");
  }
}

}  // namespace he_tf
