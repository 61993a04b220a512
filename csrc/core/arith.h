// Ciphertext arithmetic with explicit level and scale control.
//
// Conventions (the Python layer plans with the same rules):
// - Every multiplication is followed by a rescale, which drops the prime
//   q_level of the operand's level and divides the scale by it.
// - Plaintext and scalar multipliers are encoded at scale q_level, so
//   multiplying by them and rescaling leaves the scale exactly unchanged.
// - Adds need equal levels and scales; AlignTo brings a ciphertext to a given
//   (level, scale) exactly, by modulus switching and, when the scale differs,
//   a multiplication by 1 encoded at the compensating scale.
#pragma once

#include <cstddef>

#include "public_context.h"
#include "seal/ciphertext.h"
#include "seal/plaintext.h"

namespace he_tf {

// The parameters of `level` (0 = last data prime left).
seal::parms_id_type ParmsAtLevel(const PublicContext& ctx, int level);
// The prime a rescale at `ct`'s level drops, as a double.
double RescalePrime(const PublicContext& ctx, const seal::Ciphertext& ct);

// values[0..n) in the first slots, zeros after, at `parms` and `scale`; with
// `imag`, slot k holds values[k] + i imag[k].
seal::Plaintext EncodeAt(const PublicContext& ctx, const double* values, std::size_t n, seal::parms_id_type parms,
                         double scale, const double* imag = nullptr);

seal::Ciphertext Negate(const PublicContext& ctx, const seal::Ciphertext& a);
seal::Ciphertext Add(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b);
seal::Ciphertext Sub(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b);
// `p` must be encoded at a's level and scale.
seal::Ciphertext AddPlain(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Plaintext& p);
seal::Ciphertext SubPlain(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Plaintext& p);

// a * p, rescaled; `p` encoded at a's level and scale RescalePrime(a).
seal::Ciphertext MultiplyPlain(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Plaintext& p);
// a * b, relinearized and rescaled (operands brought to the lower level first).
seal::Ciphertext Multiply(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b);
seal::Ciphertext Square(const PublicContext& ctx, const seal::Ciphertext& a);

// acc += a * round(value * constant_scale), without rescaling: acc's scale
// becomes a.scale() * constant_scale. `acc` empty means start from zero.
void MultiplyAccumulateConstant(const PublicContext& ctx, const seal::Ciphertext& a, double value,
                                double constant_scale, seal::Ciphertext& acc);
// a * value, rescaled (scale unchanged).
seal::Ciphertext MultiplyConstant(const PublicContext& ctx, const seal::Ciphertext& a, double value);

seal::Ciphertext Relinearize(const PublicContext& ctx, const seal::Ciphertext& a);
seal::Ciphertext Rescale(const PublicContext& ctx, const seal::Ciphertext& a);
seal::Ciphertext ModSwitchTo(const PublicContext& ctx, const seal::Ciphertext& a, int level);
seal::Ciphertext AlignTo(const PublicContext& ctx, const seal::Ciphertext& a, int level, double scale);

// Throws unless a and b are at the same level and scale, naming both.
void CheckSameLevelAndScale(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b,
                            const char* op);
// Throws unless a level remains for a rescale.
void CheckCanRescale(const PublicContext& ctx, const seal::Ciphertext& a, const char* op);

}  // namespace he_tf
