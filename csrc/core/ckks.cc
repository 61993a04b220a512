#include "ckks.h"

#include <cmath>
#include <complex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "residues.h"
#include "seal_io.h"
#include "seal_load.h"

namespace he_tf {
namespace {

std::string KeyIdHex(std::uint64_t id) {
  std::ostringstream out;
  out << std::hex << id;
  return out.str();
}

}  // namespace

double MaxEncodableMagnitude(const CkksParams& params) {
  return std::ldexp(1.0, params.coeff_mod_bit_sizes.front() - params.scale_bits - 1);
}

namespace {

void CheckEncryptable(const PublicContext& ctx, const double* values, std::size_t n) {
  const double limit = MaxEncodableMagnitude(ctx.params());
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) throw std::invalid_argument("cannot encrypt NaN or infinite values");
    if (std::fabs(values[i]) >= limit) {
      std::ostringstream msg;
      msg << "value " << values[i] << " is too large to encrypt with " << ctx.params().ToString()
          << ": |x| must stay below " << limit << " (2^(first prime bits - scale_bits - 1)); "
          << "scale the data down or use a larger first prime";
      throw std::invalid_argument(msg.str());
    }
  }
}

seal::Plaintext EncodeForEncryption(const PublicContext& ctx, const double* values, std::size_t n,
                                    const double* imag) {
  if (n > ctx.slot_count()) {
    throw std::invalid_argument("cannot encrypt " + std::to_string(n) + " values into one ciphertext of " +
                                std::to_string(ctx.slot_count()) + " slots");
  }
  CheckEncryptable(ctx, values, n);
  seal::Plaintext plain;
  if (imag == nullptr) {
    thread_local std::vector<double> buffer;
    buffer.assign(values, values + n);
    ctx.encoder().encode(buffer, ctx.scale(), plain);
    return plain;
  }
  CheckEncryptable(ctx, imag, n);
  const double limit = MaxEncodableMagnitude(ctx.params());
  thread_local std::vector<std::complex<double>> slots;
  slots.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    slots[i] = {values[i], imag[i]};
    // What bounds the encoding's coefficients: the slot's modulus, compared squared (both parts are
    // finite and below `limit`, so the square cannot overflow; hypot would cost a fifth of the encoding).
    if (std::norm(slots[i]) >= limit * limit) {
      std::ostringstream msg;
      msg << "the complex slot " << values[i] << " + " << imag[i] << "i is too large to encrypt with "
          << ctx.params().ToString() << ": its modulus must stay below " << limit;
      throw std::invalid_argument(msg.str());
    }
  }
  ctx.encoder().encode(slots, ctx.scale(), plain);
  return plain;
}

}  // namespace

seal::Ciphertext Encrypt(const PublicContext& ctx, const double* values, std::size_t n, const double* imag) {
  seal::Ciphertext ct;
  ctx.encryptor().encrypt(EncodeForEncryption(ctx, values, n, imag), ct);
  return ct;
}

std::string EncryptSymmetric(const PublicContext& ctx, const SecretKey& sk, const double* values, std::size_t n,
                             const double* imag) {
  CheckSameKeySet(ctx, sk);
  // Uncompressed: the seed already halves the bytes, and compressing costs
  // more than encrypting; HeSerialize compresses when the bytes leave.
  return SaveToString(sk.EncryptSymmetric(EncodeForEncryption(ctx, values, n, imag)), seal::compr_mode_type::none);
}

void CheckSameKeySet(const PublicContext& ctx, const SecretKey& sk) {
  if (sk.key_id() != ctx.key_id()) {
    throw std::invalid_argument("the secret key belongs to key set " + KeyIdHex(sk.key_id()) +
                                " but the ciphertexts were encrypted under key set " + KeyIdHex(ctx.key_id()) +
                                "; decrypt with the secret key of the KeySet whose public context encrypted them");
  }
}

void Decrypt(const PublicContext& ctx, const SecretKey& sk, const seal::Ciphertext& ct, double* out, std::size_t n,
             double* imag) {
  CheckSameKeySet(ctx, sk);
  if (n > ctx.slot_count()) {
    throw std::invalid_argument("cannot read " + std::to_string(n) + " values from a ciphertext of " +
                                std::to_string(ctx.slot_count()) + " slots");
  }
  seal::Plaintext plain;
  sk.Decrypt(ct, plain);
  if (imag == nullptr) {
    thread_local std::vector<double> buffer;
    ctx.encoder().decode(plain, buffer);
    std::copy(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n), out);
    return;
  }
  thread_local std::vector<std::complex<double>> slots;
  ctx.encoder().decode(plain, slots);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = slots[i].real();
    imag[i] = slots[i].imag();
  }
}

void CheckLevelAndScale(const PublicContext& ctx, const seal::Ciphertext& ct, int level, double scale,
                        const char* what) {
  // A relative tolerance far above rounding and far below any change that moves a decrypted value.
  constexpr double kTolerance = 1e-9;
  if (level >= 0 && ctx.Level(ct) != level) {
    throw std::invalid_argument(std::string(what) + ": a ciphertext is at level " + std::to_string(ctx.Level(ct)) +
                                ", its tensor declares level " + std::to_string(level));
  }
  if (scale > 0 && !(std::fabs(ct.scale() - scale) <= kTolerance * scale)) {
    std::ostringstream msg;
    msg << what << ": a ciphertext has scale 2^" << std::log2(ct.scale()) << ", its tensor declares 2^"
        << std::log2(scale);
    throw std::invalid_argument(msg.str());
  }
}

std::string SaveCiphertext(const seal::Ciphertext& ct, seal::compr_mode_type mode) { return SaveToString(ct, mode); }

seal::Ciphertext LoadCiphertext(const PublicContext& ctx, std::string_view bytes) {
  seal::Ciphertext ct;
  if (IsResidueEncoded(bytes)) {
    LoadValidated(ctx.seal_context(), DecodeResidues(ctx.seal_context(), bytes), ct);
  } else {
    LoadValidated(ctx.seal_context(), bytes, ct);
  }
  return ct;
}

}  // namespace he_tf
