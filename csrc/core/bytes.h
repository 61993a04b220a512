// A minimal framed binary format for he-tf's own containers: a magic tag,
// then fixed-width integers and length-prefixed blobs. Readers bounds-check
// everything and throw std::invalid_argument on malformed input.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace he_tf {

class ByteWriter {
 public:
  explicit ByteWriter(std::string_view magic) : out_(magic) {}
  void U64(std::uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void Blob(std::string_view b) {
    U64(b.size());
    out_.append(b);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  // `what` names the object being read, for error messages.
  ByteReader(std::string_view in, std::string_view magic, std::string what) : in_(in), what_(std::move(what)) {
    if (in_.substr(0, magic.size()) != magic) {
      Fail("it does not start with the he-tf tag '" + std::string(magic) + "'");
    }
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
    throw std::invalid_argument("cannot read " + what_ + ": " + why + " (corrupted or not " + what_ + " bytes)");
  }

 private:
  void Need(std::uint64_t n) const {
    if (in_.size() < n) Fail("truncated");
  }
  std::string_view in_;
  std::string what_;
};

}  // namespace he_tf
