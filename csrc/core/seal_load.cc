#include "seal_load.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "seal/randomgen.h"
#include "seal/serialization.h"
#include "seal/util/config.h"
#include "zlib.h"
#ifdef HE_TF_HAVE_ZSTD  // SEAL built with zstd (ours is)
#include "zstd.h"
#include "zstd_errors.h"
#endif

namespace he_tf {
namespace {

using seal::Serialization;
using ContextData = seal::SEALContext::ContextData;

constexpr std::size_t kHeaderSize = sizeof(Serialization::SEALHeader);
// Ciphertext members before its data: parms_id, NTT flag, size, N, primes, scale, correction factor.
constexpr std::uint64_t kCiphertextMeta = sizeof(seal::parms_id_type) + 1 + 3 * 8 + sizeof(double) + 8;
// Plaintext members before its data: parms_id, coefficient count, scale.
constexpr std::uint64_t kPlaintextMeta = sizeof(seal::parms_id_type) + 2 * sizeof(std::uint64_t);
// A DynArray object: header and count, then the words.
constexpr std::uint64_t kArrayOverhead = kHeaderSize + sizeof(std::uint64_t);
// Uniform residues modulo primes of 20 bits or more, stored in 64-bit words,
// cannot compress below 20/64 of their size: no honest key material inflates
// by more than this factor (plus an index table of 8 bytes per Galois element).
constexpr std::uint64_t kMaxInflation = 4;

// A SEAL 4 header. Other 4.x releases (TenSEAL 0.3.18's SEAL writes 4.3) keep 4.1's layout, which the
// walkers below check member by member; SEAL 4.1 itself accepts only its own minor version, so the
// version byte is rewritten to ours before SEAL loads the checked bytes.
bool IsSeal4Header(Serialization::SEALHeader h) {
  if (h.version_major != 4) return false;
  h.version_minor = SEAL_VERSION_MINOR;
  return Serialization::IsValidHeader(h);
}
constexpr std::size_t kVersionMinorOffset = offsetof(Serialization::SEALHeader, version_minor);

[[noreturn]] void Refuse(const char* what, const std::string& why) {
  throw std::invalid_argument(std::string("refused ") + what + ": " + why);
}

std::uint64_t PrngInfoSize() {
  return static_cast<std::uint64_t>(seal::UniformRandomGeneratorInfo::SaveSize(seal::compr_mode_type::none));
}

// A bounds-checked cursor over an object's uncompressed members.
class Walker {
 public:
  // `writable`: `in` lies in a buffer of our own, where foreign SEAL 4 version bytes are rewritten.
  // `minor`: the SEAL 4 minor version inner headers are rewritten to.
  Walker(std::string_view in, const char* what, bool writable = false,
         std::uint8_t minor = static_cast<std::uint8_t>(SEAL_VERSION_MINOR))
      : in_(in), what_(what), writable_(writable), minor_(minor) {}

  template <class T>
  T Read() {
    Need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return v;
  }
  void Skip(std::uint64_t n) {
    Need(n);
    in_.remove_prefix(static_cast<std::size_t>(n));
  }
  std::uint64_t remaining() const { return in_.size(); }
  const char* what() const { return what_; }
  [[noreturn]] void Fail(const std::string& why) const { Refuse(what_, why); }
  void End() const {
    if (!in_.empty()) Fail(std::to_string(in_.size()) + " unexpected trailing bytes");
  }

  // A nested SEAL object's header (always uncompressed); returns its declared total size.
  std::uint64_t NestedHeader() {
    char* at = const_cast<char*>(in_.data());
    const auto h = Read<Serialization::SEALHeader>();
    if (!IsSeal4Header(h) || h.compr_mode != seal::compr_mode_type::none || h.size < kHeaderSize) {
      Fail("an inner SEAL header is invalid");
    }
    if (h.version_minor != minor_) {
      if (!writable_) Fail("an inner SEAL header's version differs from the outer one's");
      at[kVersionMinorOffset] = static_cast<char>(minor_);
    }
    return h.size;
  }

  // A DynArray of words whose count must be one of `a`, `b` (b = 0: only a). Returns the count.
  std::uint64_t Array(std::uint64_t a, std::uint64_t b = 0) {
    const std::uint64_t declared = NestedHeader();
    const auto count = Read<std::uint64_t>();
    if (count != a && (b == 0 || count != b)) {
      Fail("it declares " + std::to_string(count) + " coefficients where its parameters give " + std::to_string(a) +
           (b ? " or " + std::to_string(b) : std::string()));
    }
    if (declared != kArrayOverhead + 8 * count) Fail("an inner size field is inconsistent");
    Skip(8 * count);
    return count;
  }

 private:
  void Need(std::uint64_t n) const {
    if (in_.size() < n) Fail("truncated");
  }
  std::string_view in_;
  const char* what_;
  bool writable_;
  std::uint8_t minor_;
};

// The level an object's parms_id names: a data level, or (for key material) the key level.
std::shared_ptr<const ContextData> ReadLevel(Walker& w, const seal::SEALContext& context, bool key_level) {
  const auto parms = w.Read<seal::parms_id_type>();
  if (key_level) {
    if (parms != context.key_parms_id()) w.Fail("it is not at the key level of these parameters");
    return context.key_context_data();
  }
  auto data = context.get_context_data(parms);
  if (!data || data->chain_index() > context.first_context_data()->chain_index()) {
    w.Fail("its parms_id is not a level of these parameters (made for other parameters, or corrupted)");
  }
  return data;
}

// Keys have scale 1; data objects a scale their level can hold.
void CheckScaleOf(Walker& w, const seal::SEALContext& context, const ContextData& data, bool key_level) {
  const auto scale = w.Read<double>();
  if (!key_level) {
    CheckScale(context, data.parms_id(), scale, w.what());
  } else if (scale != 1.0) {
    w.Fail("a key's scale must be 1");
  }
}

std::string LevelSizes(const ContextData& data) {
  return "N=" + std::to_string(data.parms().poly_modulus_degree()) + " with " +
         std::to_string(data.parms().coeff_modulus().size()) + " primes";
}

// Ciphertext members: metadata, then the data (all polynomials, or the first
// plus the seed of the second when seeded).
void WalkCiphertext(Walker& w, const seal::SEALContext& context, bool key_level) {
  const auto data = ReadLevel(w, context, key_level);
  if (w.Read<std::uint8_t>() != 1) w.Fail("it is not in NTT form, as CKKS ciphertexts are");
  const auto size = w.Read<std::uint64_t>();
  if (size < 2 || size > (key_level ? 2 : 3)) {
    w.Fail("it has " + std::to_string(size) + " polynomials; " +
           (key_level ? "a key has 2" : "a ciphertext has 2 (3 before relinearization)"));
  }
  const auto n = w.Read<std::uint64_t>();
  const auto primes = w.Read<std::uint64_t>();
  if (n != data->parms().poly_modulus_degree() || primes != data->parms().coeff_modulus().size()) {
    w.Fail("it declares N=" + std::to_string(n) + " with " + std::to_string(primes) + " primes, its level has " +
           LevelSizes(*data));
  }
  CheckScaleOf(w, context, *data, key_level);
  if (w.Read<std::uint64_t>() != 1) w.Fail("its correction factor must be 1 under CKKS");
  const std::uint64_t poly = n * primes;
  const std::uint64_t count = w.Array(size * poly, size == 2 ? poly : 0);
  if (count == poly) {  // seeded: the second polynomial is expanded from a seed
    if (w.NestedHeader() != PrngInfoSize()) w.Fail("its seed is malformed");
    w.Skip(PrngInfoSize() - kHeaderSize);
  }
}

// One whole nested ciphertext-like object (header included), e.g. each key in a KSwitchKeys.
void WalkNestedCiphertext(Walker& w, const seal::SEALContext& context, bool key_level) {
  const std::uint64_t declared = w.NestedHeader();
  const std::uint64_t before = w.remaining() + kHeaderSize;
  WalkCiphertext(w, context, key_level);
  if (before - w.remaining() != declared) w.Fail("an inner size field is inconsistent");
}

void WalkPlaintext(Walker& w, const seal::SEALContext& context, bool key_level) {
  const auto data = ReadLevel(w, context, key_level);
  const auto count = w.Read<std::uint64_t>();
  const std::uint64_t expected = data->parms().poly_modulus_degree() * data->parms().coeff_modulus().size();
  if (count != expected) {
    w.Fail("it declares " + std::to_string(count) + " coefficients, its level has " + std::to_string(expected));
  }
  CheckScaleOf(w, context, *data, key_level);
  w.Array(expected);
}

// Relinearization or Galois keys: a table of key-switching keys, each a
// vector of one key per data prime of the first level.
void WalkKSwitchKeys(Walker& w, const seal::SEALContext& context, std::uint64_t max_entries) {
  if (w.Read<seal::parms_id_type>() != context.key_parms_id()) w.Fail("it is not at the key level");
  const auto entries = w.Read<std::uint64_t>();
  if (entries == 0 || entries > max_entries) {
    w.Fail("it declares " + std::to_string(entries) + " entries, at most " + std::to_string(max_entries) +
           " are possible");
  }
  const std::uint64_t per_entry = context.first_context_data()->parms().coeff_modulus().size();
  for (std::uint64_t i = 0; i < entries; ++i) {
    const auto keys = w.Read<std::uint64_t>();
    if (keys != 0 && keys != per_entry) {
      w.Fail("an entry holds " + std::to_string(keys) + " keys, these parameters give " + std::to_string(per_entry));
    }
    for (std::uint64_t j = 0; j < keys; ++j) WalkNestedCiphertext(w, context, true);
  }
}

// ---- the outer object: header, decompression with a cap ----------------------

// An object's bytes in uncompressed form, behind a SEAL header that says so.
struct Unpacked {
  std::unique_ptr<char[]> owned;  // the decompressed form, when the input was compressed
  std::string_view all;           // header + members, uncompressed
  bool writable() const { return owned != nullptr; }
  std::string_view members() const { return all.substr(kHeaderSize); }
};

enum class Inflated { kOk, kTooLarge, kCorrupted };

// Decompresses `in` into out[0, capacity): one pass straight into the buffer,
// with the decompressor's state reused per thread, so a stream of refused
// inputs allocates nothing but the (bounded) buffer. `size` gets the length.
#ifdef HE_TF_HAVE_ZSTD
Inflated InflateZstd(std::string_view in, char* out, std::size_t capacity, std::size_t& size) {
  thread_local const std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) throw std::runtime_error("cannot create a zstd decompression context");
  ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_and_parameters);
  const std::size_t n = ZSTD_decompressDCtx(dctx.get(), out, capacity, in.data(), in.size());
  if (ZSTD_isError(n)) {
    return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? Inflated::kTooLarge : Inflated::kCorrupted;
  }
  size = n;
  return Inflated::kOk;
}
#endif

Inflated InflateZlib(std::string_view in, char* out, std::size_t capacity, std::size_t& size) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) throw std::runtime_error("cannot create a zlib decompression context");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out);
  z.avail_out = static_cast<uInt>(capacity);
  const int status = inflate(&z, Z_FINISH);
  size = z.total_out;
  const bool consumed = z.avail_in == 0;
  inflateEnd(&z);
  if (status == Z_STREAM_END && consumed) return Inflated::kOk;
  return status == Z_BUF_ERROR && z.avail_out == 0 ? Inflated::kTooLarge : Inflated::kCorrupted;
}

Unpacked Unpack(std::string_view bytes, const char* what, std::uint64_t max_members) {
  if (bytes.size() < kHeaderSize) Refuse(what, "truncated");
  Serialization::SEALHeader header;
  std::memcpy(&header, bytes.data(), kHeaderSize);
  if (!IsSeal4Header(header)) Refuse(what, "it does not start with a SEAL 4 header");
  if (header.size != bytes.size()) {
    Refuse(what, "its header declares " + std::to_string(header.size) + " bytes, " + std::to_string(bytes.size()) +
                     " arrived");
  }
  Unpacked out;
  if (header.compr_mode == seal::compr_mode_type::none) {
    if (bytes.size() - kHeaderSize > max_members) {
      Refuse(what, std::to_string(bytes.size()) + " bytes is more than these parameters allow");
    }
    if (header.version_minor == SEAL_VERSION_MINOR) {
      out.all = bytes;
      return out;
    }
    out.owned.reset(new char[bytes.size()]);  // another 4.x: a copy whose version bytes we can rewrite
    std::memcpy(out.owned.get(), bytes.data(), bytes.size());
    out.owned[kVersionMinorOffset] = static_cast<char>(SEAL_VERSION_MINOR);
    out.all = std::string_view(out.owned.get(), bytes.size());
    return out;
  }
  if (max_members >= std::numeric_limits<uInt>::max()) max_members = std::numeric_limits<uInt>::max() - 1;
  // One byte past the cap tells "too large" from "exactly the cap". Not zero-filled: pages are
  // touched only as data arrives.
  const std::size_t capacity = static_cast<std::size_t>(max_members) + 1;
  out.owned.reset(new char[kHeaderSize + capacity]);
  const std::string_view compressed = bytes.substr(kHeaderSize);
  std::size_t size = 0;
  Inflated result = Inflated::kCorrupted;
  switch (header.compr_mode) {
#ifdef HE_TF_HAVE_ZSTD
    case seal::compr_mode_type::zstd:
      result = InflateZstd(compressed, out.owned.get() + kHeaderSize, capacity, size);
      break;
#endif
    case seal::compr_mode_type::zlib:
      result = InflateZlib(compressed, out.owned.get() + kHeaderSize, capacity, size);
      break;
    default:
      Refuse(what, "its compression mode is not supported");
  }
  if (result == Inflated::kTooLarge || size > max_members) {
    Refuse(what, "it decompresses past the " + std::to_string(max_members) +
                     " bytes that its kind can have under these parameters");
  }
  if (result != Inflated::kOk) Refuse(what, "its compressed data is corrupted");
  header.compr_mode = seal::compr_mode_type::none;
  header.version_minor = SEAL_VERSION_MINOR;
  header.size = kHeaderSize + size;
  std::memcpy(out.owned.get(), &header, kHeaderSize);
  out.all = std::string_view(out.owned.get(), kHeaderSize + size);
  return out;
}

// Walks the members with `walk`, then lets SEAL load the checked bytes.
template <class T, class Walk>
void Load(const seal::SEALContext& context, std::string_view bytes, T& out, const char* what,
          std::uint64_t max_members, Walk walk) {
  const Unpacked unpacked = Unpack(bytes, what, max_members);
  Walker w(unpacked.members(), what, unpacked.writable());
  walk(w);
  w.End();
  try {
    out.load(context, reinterpret_cast<const seal::seal_byte*>(unpacked.all.data()), unpacked.all.size());
  } catch (const std::exception& e) {
    Refuse(what, std::string("SEAL rejected it: ") + e.what());
  }
}

std::uint64_t Words(const ContextData& data) {
  return data.parms().poly_modulus_degree() * data.parms().coeff_modulus().size();
}

std::uint64_t MaxCiphertextMembers(const ContextData& data, std::uint64_t polys) {
  return kCiphertextMeta + kArrayOverhead + 8 * polys * Words(data) + PrngInfoSize();
}

}  // namespace

void CheckScale(const seal::SEALContext& context, const seal::parms_id_type& parms, double scale,
                const char* what) {
  const auto data = context.get_context_data(parms);
  const int bits = data ? data->total_coeff_modulus_bit_count() : 0;
  if (!std::isfinite(scale) || scale <= 1.0 || std::log2(scale) >= bits) {
    std::ostringstream why;
    why << "its scale " << scale << " is not finite, above 1 and below 2^" << bits << " (the modulus at its level)";
    Refuse(what, why.str());
  }
}

void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::Ciphertext& out) {
  Load(context, bytes, out, "a ciphertext", MaxCiphertextMembers(*context.first_context_data(), 3),
       [&](Walker& w) { WalkCiphertext(w, context, false); });
}

void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::Plaintext& out) {
  Load(context, bytes, out, "a plaintext", kPlaintextMeta + kArrayOverhead + 8 * Words(*context.first_context_data()),
       [&](Walker& w) { WalkPlaintext(w, context, false); });
}

void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::PublicKey& out) {
  Load(context, bytes, out, "a public key", MaxCiphertextMembers(*context.key_context_data(), 2),
       [&](Walker& w) { WalkCiphertext(w, context, true); });
}

void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::SecretKey& out) {
  Load(context, bytes, out, "a secret key", kPlaintextMeta + kArrayOverhead + 8 * Words(*context.key_context_data()),
       [&](Walker& w) { WalkPlaintext(w, context, true); });
}

namespace {
std::uint64_t MaxKSwitchMembers(const seal::SEALContext& context, std::uint64_t entries) {
  const std::uint64_t per_entry = context.first_context_data()->parms().coeff_modulus().size();
  const std::uint64_t key = kHeaderSize + MaxCiphertextMembers(*context.key_context_data(), 2);
  return sizeof(seal::parms_id_type) + 8 + entries * (8 + per_entry * key);
}
}  // namespace

void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::RelinKeys& out) {
  // One entry: the key for s^2 (SEAL's relinearization keys of he-tf's key sets).
  Load(context, bytes, out, "the relinearization keys", MaxKSwitchMembers(context, 1),
       [&](Walker& w) { WalkKSwitchKeys(w, context, 1); });
}

void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::GaloisKeys& out) {
  // An entry per odd Galois element below 2N; the structure allows N of them,
  // far more than honest bytes could hold, so compressed bytes are also capped
  // at what uniform key material can inflate to.
  const std::uint64_t n = context.key_context_data()->parms().poly_modulus_degree();
  const std::uint64_t structural = MaxKSwitchMembers(context, n);
  const std::uint64_t inflation = kMaxInflation * bytes.size() + 8 * n + 4096;
  Load(context, bytes, out, "the Galois keys", std::min(structural, inflation),
       [&](Walker& w) { WalkKSwitchKeys(w, context, n); });
}

namespace {
constexpr std::uint64_t kMaxParmsPrimes = 64;
constexpr std::uint64_t kModulusSize = kHeaderSize + sizeof(std::uint64_t);  // a nested Modulus object

std::uint64_t ReadModulus(Walker& w) {
  if (w.NestedHeader() != kModulusSize) w.Fail("a modulus's size field is inconsistent");
  return w.Read<std::uint64_t>();
}
}  // namespace

void LoadValidated(std::string_view bytes, seal::EncryptionParameters& out) {
  const char* what = "the encryption parameters";
  const std::uint64_t max_members = 1 + 2 * 8 + (kMaxParmsPrimes + 1) * kModulusSize;
  const Unpacked unpacked = Unpack(bytes, what, max_members);
  Walker w(unpacked.members(), what, unpacked.writable());
  if (w.Read<std::uint8_t>() != static_cast<std::uint8_t>(seal::scheme_type::ckks)) w.Fail("they are not CKKS's");
  const auto n = w.Read<std::uint64_t>();
  if (n < 2 || n > 32768 || (n & (n - 1)) != 0) w.Fail("N=" + std::to_string(n) + " is not a power of two up to 32768");
  const auto primes = w.Read<std::uint64_t>();
  if (primes < 2 || primes > kMaxParmsPrimes) {
    w.Fail("they declare " + std::to_string(primes) + " primes, 2 to " + std::to_string(kMaxParmsPrimes) +
           " are possible");
  }
  for (std::uint64_t i = 0; i < primes; ++i) {
    const std::uint64_t q = ReadModulus(w);
    if (q < 2 || q >= (std::uint64_t{1} << 60)) w.Fail("prime " + std::to_string(i) + " is not of 2 to 60 bits");
  }
  if (ReadModulus(w) != 0) w.Fail("they set a plaintext modulus, which CKKS has none of");
  w.End();
  try {
    out.load(reinterpret_cast<const seal::seal_byte*>(unpacked.all.data()), unpacked.all.size());
  } catch (const std::exception& e) {
    Refuse(what, std::string("SEAL rejected them: ") + e.what());
  }
}

std::string CiphertextForSealVersion(const seal::SEALContext& context, std::string_view bytes, int minor) {
  const char* what = "a ciphertext";
  if (minor < 0 || minor > 255) Refuse(what, "SEAL 4." + std::to_string(minor) + " is not a SEAL version");
  const Unpacked unpacked = Unpack(bytes, what, MaxCiphertextMembers(*context.first_context_data(), 3));
  std::string out(unpacked.all);
  Walker w(std::string_view(out).substr(kHeaderSize), what, /*writable=*/true, static_cast<std::uint8_t>(minor));
  WalkCiphertext(w, context, false);
  w.End();
  out[kVersionMinorOffset] = static_cast<char>(minor);
  return out;
}

}  // namespace he_tf
