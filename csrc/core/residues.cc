#include "residues.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "seal/randomgen.h"
#include "seal/serialization.h"

namespace he_tf {
namespace {

using seal::Serialization;

constexpr std::size_t kHeaderSize = sizeof(Serialization::SEALHeader);
// SEAL's header, the members before the data (parms_id, NTT flag, size, N, primes, scale, correction
// factor), the data array's header and its word count.
constexpr std::size_t kPrefixSize = kHeaderSize + sizeof(seal::parms_id_type) + 1 + 3 * 8 + 8 + 8 + kHeaderSize + 8;

[[noreturn]] void Refuse(const char* what, const std::string& why) {
  throw std::invalid_argument(std::string("refused ") + what + ": " + why);
}

// The words start at byte 113 of SEAL's bytes: unaligned, so they are read and written with memcpy.
std::uint64_t WordAt(const char* p, std::uint64_t index) {
  std::uint64_t w;
  std::memcpy(&w, p + 8 * index, 8);
  return w;
}

template <class T>
T At(std::string_view bytes, std::size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

// What the prefix declares, checked against the context: the level's primes, the words and what follows.
struct Prefix {
  std::vector<int> bits;              // per prime of the level
  std::vector<std::uint64_t> primes;  // their values
  std::uint64_t n = 0, polys = 0;     // N; polynomials stored as words (1 when seeded)
  std::uint64_t suffix = 0;           // bytes after the words (the seed)
  std::uint64_t seal_size = 0;        // SEAL's uncompressed size, header included
  std::uint64_t stream_bytes = 0;     // the words packed
};

Prefix ReadPrefix(const seal::SEALContext& context, std::string_view prefix, const char* what) {
  const auto header = At<Serialization::SEALHeader>(prefix, 0);
  if (!Serialization::IsValidHeader(header) || header.version_major != 4 ||
      header.compr_mode != seal::compr_mode_type::none) {
    Refuse(what, "its SEAL header is invalid");
  }
  std::size_t at = kHeaderSize;
  const auto parms = At<seal::parms_id_type>(prefix, at);
  at += sizeof parms;
  const auto data = context.get_context_data(parms);
  if (!data || data->chain_index() > context.first_context_data()->chain_index()) {
    Refuse(what, "its parms_id is not a level of these parameters (made for other parameters, or corrupted)");
  }
  if (At<std::uint8_t>(prefix, at) != 1) Refuse(what, "it is not in NTT form, as CKKS ciphertexts are");
  at += 1;
  const auto size = At<std::uint64_t>(prefix, at);
  const auto n = At<std::uint64_t>(prefix, at + 8);
  const auto count_primes = At<std::uint64_t>(prefix, at + 16);
  at += 24 + 8 + 8;  // size, N, primes; scale and correction factor (LoadValidated checks them)
  const auto& modulus = data->parms().coeff_modulus();
  if (size < 2 || size > 3) Refuse(what, "it has " + std::to_string(size) + " polynomials, not 2 or 3");
  if (n != data->parms().poly_modulus_degree() || count_primes != modulus.size()) {
    Refuse(what, "it declares N=" + std::to_string(n) + " with " + std::to_string(count_primes) +
                     " primes, its level has N=" + std::to_string(data->parms().poly_modulus_degree()) + " with " +
                     std::to_string(modulus.size()));
  }
  const auto array = At<Serialization::SEALHeader>(prefix, at);
  const auto count = At<std::uint64_t>(prefix, at + kHeaderSize);
  Prefix p;
  p.n = n;
  const std::uint64_t poly = n * count_primes;
  if (count == size * poly) {
    p.polys = size;
  } else if (size == 2 && count == poly) {  // seeded: the second polynomial is expanded from a seed
    p.polys = 1;
    p.suffix = static_cast<std::uint64_t>(seal::UniformRandomGeneratorInfo::SaveSize(seal::compr_mode_type::none));
  } else {
    Refuse(what, "it declares " + std::to_string(count) + " words where its parameters give " +
                     std::to_string(size * poly) + (size == 2 ? " or " + std::to_string(poly) : std::string()));
  }
  if (!Serialization::IsValidHeader(array) || array.compr_mode != seal::compr_mode_type::none ||
      array.size != kHeaderSize + 8 + 8 * count) {
    Refuse(what, "its data array's header is invalid");
  }
  p.seal_size = kPrefixSize + 8 * count + p.suffix;
  if (header.size != p.seal_size) Refuse(what, "its SEAL header declares an inconsistent size");
  std::uint64_t bits_per_poly = 0;
  for (const auto& q : modulus) {
    p.bits.push_back(q.bit_count());
    p.primes.push_back(q.value());
    bits_per_poly += static_cast<std::uint64_t>(q.bit_count()) * n;
  }
  p.stream_bytes = (p.polys * bits_per_poly + 7) / 8;
  return p;
}

}  // namespace

bool IsResidueEncoded(std::string_view bytes) { return bytes.substr(0, kResidueMagic.size()) == kResidueMagic; }

std::string EncodeResidues(const seal::SEALContext& context, std::string_view in) {
  const char* what = "a ciphertext to encode";
  if (in.size() < kPrefixSize) Refuse(what, "truncated");
  const Prefix p = ReadPrefix(context, in.substr(0, kPrefixSize), what);
  if (in.size() != p.seal_size) Refuse(what, "its size differs from its header's");
  std::string out(kResidueMagic.size() + kPrefixSize + p.stream_bytes + p.suffix, '\0');
  char* o = out.data();
  std::memcpy(o, kResidueMagic.data(), kResidueMagic.size());
  std::memcpy(o + kResidueMagic.size(), in.data(), kPrefixSize);
  char* stream = o + kResidueMagic.size() + kPrefixSize;
  const char* words = in.data() + kPrefixSize;
  unsigned __int128 acc = 0;
  int held = 0;
  std::size_t written = 0;
  for (std::uint64_t poly = 0; poly < p.polys; ++poly) {
    for (std::size_t j = 0; j < p.bits.size(); ++j) {
      const int b = p.bits[j];
      const std::uint64_t q = p.primes[j];
      const std::uint64_t first = (poly * p.bits.size() + j) * p.n;
      for (std::uint64_t k = 0; k < p.n; ++k) {
        const std::uint64_t w = WordAt(words, first + k);
        if (w >= q) Refuse(what, "a residue is not below its prime");
        acc |= static_cast<unsigned __int128>(w) << held;
        held += b;
        if (held >= 64) {
          const auto low = static_cast<std::uint64_t>(acc);
          std::memcpy(stream + written, &low, 8);
          written += 8;
          acc >>= 64;
          held -= 64;
        }
      }
    }
  }
  for (; held > 0; held -= 8, acc >>= 8) stream[written++] = static_cast<char>(static_cast<std::uint8_t>(acc));
  std::memcpy(stream + p.stream_bytes, in.data() + (p.seal_size - p.suffix), p.suffix);
  return out;
}

std::string DecodeResidues(const seal::SEALContext& context, std::string_view bytes) {
  const char* what = "a ciphertext";
  if (!IsResidueEncoded(bytes)) Refuse(what, "it is not residue-encoded");
  const std::string_view in = bytes.substr(kResidueMagic.size());
  if (in.size() < kPrefixSize) Refuse(what, "truncated");
  const Prefix p = ReadPrefix(context, in.substr(0, kPrefixSize), what);
  if (in.size() != kPrefixSize + p.stream_bytes + p.suffix) {
    Refuse(what, "its parameters give " + std::to_string(kResidueMagic.size() + kPrefixSize + p.stream_bytes + p.suffix) +
                     " bytes, " + std::to_string(bytes.size()) + " arrived");
  }
  std::string out(p.seal_size, '\0');  // bounded: computed from the context's parameters
  std::memcpy(out.data(), in.data(), kPrefixSize);
  char* words = out.data() + kPrefixSize;
  const char* stream = in.data() + kPrefixSize;
  std::size_t read = 0;
  unsigned __int128 acc = 0;
  int held = 0;
  for (std::uint64_t poly = 0; poly < p.polys; ++poly) {
    for (std::size_t j = 0; j < p.bits.size(); ++j) {
      const int b = p.bits[j];
      const std::uint64_t q = p.primes[j], mask = (std::uint64_t{1} << b) - 1;
      char* w = words + 8 * (poly * p.bits.size() + j) * p.n;
      for (std::uint64_t k = 0; k < p.n; ++k) {
        if (held < b) {
          if (p.stream_bytes - read >= 8) {
            std::uint64_t next;
            std::memcpy(&next, stream + read, 8);
            read += 8;
            acc |= static_cast<unsigned __int128>(next) << held;
            held += 64;
          } else {
            while (held < b) {  // the last bytes, one at a time (the size check guarantees them)
              acc |= static_cast<unsigned __int128>(static_cast<std::uint8_t>(stream[read++])) << held;
              held += 8;
            }
          }
        }
        const std::uint64_t word = static_cast<std::uint64_t>(acc) & mask;
        if (word >= q) Refuse(what, "a residue is not below its prime");
        std::memcpy(w + 8 * k, &word, 8);
        acc >>= b;
        held -= b;
      }
    }
  }
  if (acc != 0 || read != p.stream_bytes) Refuse(what, "the bits after its last residue are not zero");
  std::memcpy(out.data() + (p.seal_size - p.suffix), stream + p.stream_bytes, p.suffix);
  return out;
}

}  // namespace he_tf
