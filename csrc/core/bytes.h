// A minimal framed binary format for he-tf's own containers: a magic tag
// (its last character the format version), fixed-width integers and
// length-prefixed blobs, then an 8-byte BLAKE2b digest of everything before
// it. Readers check the digest before reading anything, bounds-check every
// field and throw std::invalid_argument on malformed input.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "seal/util/blake2.h"

namespace he_tf {

// The first 8 bytes of the BLAKE2b digest of `data`.
inline std::uint64_t Digest64(std::string_view data) {
  std::uint64_t out = 0;
  if (blake2b(&out, sizeof out, data.data(), data.size(), nullptr, 0) != 0) {
    throw std::runtime_error("BLAKE2b failed");
  }
  return out;
}

class ByteWriter {
 public:
  explicit ByteWriter(std::string_view magic) : out_(magic) {}
  void U64(std::uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void Blob(std::string_view b) {
    U64(b.size());
    out_.append(b);
  }
  // The container, sealed with its digest.
  std::string Take() {
    U64(Digest64(out_));
    return std::move(out_);
  }

 private:
  std::string out_;
};

class ByteReader {
 public:
  // `what` names the object being read, for error messages.
  ByteReader(std::string_view in, std::string_view magic, std::string what) : in_(in), what_(std::move(what)) {
    const std::string_view tag = in_.substr(0, magic.size());
    if (tag.size() == magic.size() && tag.substr(0, magic.size() - 1) == magic.substr(0, magic.size() - 1) &&
        tag != magic) {
      Fail("it is in format '" + std::string(tag) + "', this version of he-tf reads '" + std::string(magic) +
           "' (keys made by an earlier he-tf carry no checksum: generate a new key set)");
    }
    if (tag != magic) Fail("it does not start with the he-tf tag '" + std::string(magic) + "'");
    std::uint64_t digest;
    if (in_.size() < magic.size() + sizeof digest) Fail("truncated");
    std::memcpy(&digest, in_.data() + in_.size() - sizeof digest, sizeof digest);
    in_.remove_suffix(sizeof digest);
    if (Digest64(in_) != digest) Fail("its checksum does not match (corrupted in storage or in transit)");
    in_.remove_prefix(magic.size());
  }
  std::uint64_t U64() {
    Need(sizeof(std::uint64_t));
    std::uint64_t v;
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return v;
  }
  std::string_view Blob() {
    const std::uint64_t n = U64();
    Need(n);
    std::string_view b = in_.substr(0, n);
    in_.remove_prefix(n);
    return b;
  }
  void End() const {
    if (!in_.empty()) Fail(std::to_string(in_.size()) + " unexpected trailing bytes");
  }
  [[noreturn]] void Fail(const std::string& why) const {
    throw std::invalid_argument("cannot read " + what_ + ": " + why);
  }

 private:
  void Need(std::uint64_t n) const {
    if (in_.size() < n) Fail("truncated (corrupted, or not " + what_ + ")");
  }
  std::string_view in_;
  std::string what_;
};

}  // namespace he_tf
