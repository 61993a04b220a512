#include "arith.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "ckks.h"
#include "seal_load.h"
#include "seal/util/iterator.h"
#include "seal/util/polyarithsmallmod.h"

namespace he_tf {
namespace {

std::string ScaleString(double scale) {
  std::ostringstream out;
  out << "2^" << std::log2(scale);
  return out.str();
}

void CheckPlainMatches(const seal::Ciphertext& a, const seal::Plaintext& p, const char* op) {
  if (a.parms_id() != p.parms_id()) {
    throw std::invalid_argument(std::string(op) + ": the plaintext was encoded for another level than the ciphertext");
  }
}

// out = a + b (or a - b) in one pass over each operand. SEAL's add(a, b, out)
// first copies a into out; on these memory-bound ops the extra pass costs
// about a quarter of the time.
seal::Ciphertext Combine(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b,
                         bool subtract) {
  if (a.size() != b.size() || a.is_ntt_form() != b.is_ntt_form()) {
    seal::Ciphertext out;
    subtract ? ctx.evaluator().sub(a, b, out) : ctx.evaluator().add(a, b, out);
    return out;
  }
  const auto& moduli = ctx.seal_context().get_context_data(a.parms_id())->parms().coeff_modulus();
  seal::Ciphertext out(ctx.seal_context(), a.parms_id(), a.size());
  out.resize(ctx.seal_context(), a.parms_id(), a.size());
  const seal::util::ConstPolyIter x(a), y(b);
  const seal::util::PolyIter z(out);
  if (subtract) {
    seal::util::sub_poly_coeffmod(x, y, a.size(), moduli, z);
  } else {
    seal::util::add_poly_coeffmod(x, y, a.size(), moduli, z);
  }
  out.is_ntt_form() = a.is_ntt_form();
  out.scale() = a.scale();
  return out;
}

}  // namespace

void CheckSameLevelAndScale(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b,
                            const char* op) {
  if (a.parms_id() != b.parms_id() || !seal::util::are_close(a.scale(), b.scale())) {
    std::ostringstream msg;
    msg << op << " needs operands at the same level and scale, got level " << ctx.Level(a) << " scale "
        << ScaleString(a.scale()) << " and level " << ctx.Level(b) << " scale " << ScaleString(b.scale())
        << " (align them first; he_tf's Python API does this automatically)";
    throw std::invalid_argument(msg.str());
  }
}

seal::parms_id_type ParmsAtLevel(const PublicContext& ctx, int level) {
  for (auto data = ctx.seal_context().first_context_data(); data; data = data->next_context_data()) {
    if (static_cast<int>(data->chain_index()) == level) return data->parms_id();
  }
  throw std::invalid_argument("level " + std::to_string(level) + " does not exist for " + ctx.params().ToString() +
                              " (levels 0.." + std::to_string(ctx.params().depth()) + ")");
}

double RescalePrime(const PublicContext& ctx, const seal::Ciphertext& ct) {
  auto data = ctx.seal_context().get_context_data(ct.parms_id());
  if (!data) throw std::invalid_argument("the ciphertext was not made under this public context's parameters");
  return static_cast<double>(data->parms().coeff_modulus().back().value());
}

void CheckCanRescale(const PublicContext& ctx, const seal::Ciphertext& a, const char* op) {
  if (ctx.Level(a) == 0) {
    throw std::invalid_argument(std::string(op) + " needs a level to rescale, but the ciphertext is at level 0; " +
                                "use parameters with a larger depth (he_tf.Params.for_depth)");
  }
}

seal::Plaintext EncodeAt(const PublicContext& ctx, const double* values, std::size_t n, seal::parms_id_type parms,
                         double scale, const double* imag) {
  CheckScale(ctx.seal_context(), parms, scale, "a plaintext encoding");
  if (n > ctx.slot_count()) {
    throw std::invalid_argument("cannot encode " + std::to_string(n) + " values into " +
                                std::to_string(ctx.slot_count()) + " slots");
  }
  const double limit = MaxEncodableMagnitude(ctx.params());
  for (std::size_t i = 0; i < n; ++i) {
    const double magnitude = imag == nullptr ? std::fabs(values[i]) : std::hypot(values[i], imag[i]);
    if (!(magnitude < limit)) {  // NaN and infinities too
      std::ostringstream msg;
      msg << "plaintext value " << values[i];
      if (imag != nullptr) msg << " + " << imag[i] << "i";
      msg << " cannot be encoded with " << ctx.params().ToString() << ": it must be finite with |x| < " << limit;
      throw std::invalid_argument(msg.str());
    }
  }
  seal::Plaintext plain;
  if (imag == nullptr) {
    thread_local std::vector<double> buffer;
    buffer.assign(values, values + n);
    ctx.encoder().encode(buffer, parms, scale, plain);
    return plain;
  }
  thread_local std::vector<std::complex<double>> slots;
  slots.resize(n);
  for (std::size_t i = 0; i < n; ++i) slots[i] = {values[i], imag[i]};
  ctx.encoder().encode(slots, parms, scale, plain);
  return plain;
}

seal::Ciphertext Negate(const PublicContext& ctx, const seal::Ciphertext& a) {
  seal::Ciphertext out;
  ctx.evaluator().negate(a, out);
  return out;
}

seal::Ciphertext Add(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b) {
  if (a.parms_id() != b.parms_id() && seal::util::are_close(a.scale(), b.scale())) {
    // Same scale, different levels: a modulus switch aligns them for free.
    const bool a_higher = ctx.Level(a) > ctx.Level(b);
    seal::Ciphertext out = ModSwitchTo(ctx, a_higher ? a : b, ctx.Level(a_higher ? b : a));
    ctx.evaluator().add_inplace(out, a_higher ? b : a);
    return out;
  }
  CheckSameLevelAndScale(ctx, a, b, "add");
  return Combine(ctx, a, b, /*subtract=*/false);
}

seal::Ciphertext Sub(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b) {
  CheckSameLevelAndScale(ctx, a, b, "subtract");
  return Combine(ctx, a, b, /*subtract=*/true);
}

seal::Ciphertext AddPlain(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Plaintext& p) {
  CheckPlainMatches(a, p, "add");
  seal::Ciphertext out;
  ctx.evaluator().add_plain(a, p, out);
  return out;
}

seal::Ciphertext SubPlain(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Plaintext& p) {
  CheckPlainMatches(a, p, "subtract");
  seal::Ciphertext out;
  ctx.evaluator().sub_plain(a, p, out);
  return out;
}

seal::Ciphertext MultiplyPlain(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Plaintext& p) {
  CheckCanRescale(ctx, a, "multiply");
  CheckPlainMatches(a, p, "multiply");
  seal::Ciphertext out;
  ctx.evaluator().multiply_plain(a, p, out);
  ctx.evaluator().rescale_to_next_inplace(out);
  return out;
}

seal::Ciphertext Multiply(const PublicContext& ctx, const seal::Ciphertext& a, const seal::Ciphertext& b) {
  seal::Ciphertext out;
  if (a.parms_id() == b.parms_id()) {
    CheckCanRescale(ctx, a, "multiply");
    ctx.evaluator().multiply(a, b, out);
  } else {
    const bool a_higher = ctx.Level(a) > ctx.Level(b);
    const seal::Ciphertext& low = a_higher ? b : a;
    CheckCanRescale(ctx, low, "multiply");
    out = ModSwitchTo(ctx, a_higher ? a : b, ctx.Level(low));
    ctx.evaluator().multiply_inplace(out, low);
  }
  ctx.evaluator().relinearize_inplace(out, ctx.relin_keys());
  ctx.evaluator().rescale_to_next_inplace(out);
  return out;
}

seal::Ciphertext Square(const PublicContext& ctx, const seal::Ciphertext& a) {
  CheckCanRescale(ctx, a, "square");
  seal::Ciphertext out;
  ctx.evaluator().square(a, out);
  ctx.evaluator().relinearize_inplace(out, ctx.relin_keys());
  ctx.evaluator().rescale_to_next_inplace(out);
  return out;
}

void MultiplyAccumulateConstant(const PublicContext& ctx, const seal::Ciphertext& a, double value,
                                double constant_scale, seal::Ciphertext& acc) {
  const double scaled = std::round(value * constant_scale);
  if (!std::isfinite(scaled) || std::fabs(scaled) >= 9.2e18) {
    std::ostringstream msg;
    msg << "constant " << value << " at scale " << ScaleString(constant_scale) << " does not fit in 63 bits";
    throw std::invalid_argument(msg.str());
  }
  const auto integer = static_cast<std::int64_t>(scaled);
  auto data = ctx.seal_context().get_context_data(a.parms_id());
  if (!data) throw std::invalid_argument("the ciphertext was not made under this public context's parameters");
  const auto& moduli = data->parms().coeff_modulus();
  const std::size_t n = a.poly_modulus_degree();
  const bool fresh = acc.size() == 0;
  if (fresh) {
    acc.resize(ctx.seal_context(), a.parms_id(), a.size());
    acc.is_ntt_form() = a.is_ntt_form();
  } else if (acc.parms_id() != a.parms_id() || acc.size() != a.size()) {
    throw std::invalid_argument("multiply-accumulate operands differ in level or size");
  }
  thread_local std::vector<std::uint64_t> product;
  product.resize(n);
  for (std::size_t poly = 0; poly < a.size(); ++poly) {
    for (std::size_t i = 0; i < moduli.size(); ++i) {
      const seal::Modulus& q = moduli[i];
      // The constant's residue mod q_i, negative values wrapped into [0, q_i).
      std::uint64_t residue = static_cast<std::uint64_t>(integer < 0 ? -integer : integer) % q.value();
      if (integer < 0 && residue != 0) residue = q.value() - residue;
      const std::uint64_t* in = a.data(poly) + i * n;
      std::uint64_t* out = acc.data(poly) + i * n;
      if (fresh) {
        seal::util::multiply_poly_scalar_coeffmod(seal::util::ConstCoeffIter(in), n, residue, q,
                                                  seal::util::CoeffIter(out));
      } else {
        seal::util::multiply_poly_scalar_coeffmod(seal::util::ConstCoeffIter(in), n, residue, q,
                                                  seal::util::CoeffIter(product.data()));
        seal::util::add_poly_coeffmod(seal::util::ConstCoeffIter(out), seal::util::ConstCoeffIter(product.data()), n, q,
                                      seal::util::CoeffIter(out));
      }
    }
  }
  acc.scale() = a.scale() * constant_scale;
}

seal::Ciphertext MultiplyConstant(const PublicContext& ctx, const seal::Ciphertext& a, double value) {
  CheckCanRescale(ctx, a, "multiply");
  seal::Ciphertext out;
  MultiplyAccumulateConstant(ctx, a, value, RescalePrime(ctx, a), out);
  ctx.evaluator().rescale_to_next_inplace(out);
  out.scale() = a.scale();  // exactly: (s * q) / q
  return out;
}

seal::Ciphertext Relinearize(const PublicContext& ctx, const seal::Ciphertext& a) {
  seal::Ciphertext out;
  ctx.evaluator().relinearize(a, ctx.relin_keys(), out);
  return out;
}

seal::Ciphertext Rescale(const PublicContext& ctx, const seal::Ciphertext& a) {
  CheckCanRescale(ctx, a, "rescale");
  seal::Ciphertext out;
  ctx.evaluator().rescale_to_next(a, out);
  return out;
}

seal::Ciphertext ModSwitchTo(const PublicContext& ctx, const seal::Ciphertext& a, int level) {
  const int from = ctx.Level(a);
  if (level > from) {
    throw std::invalid_argument("cannot raise a ciphertext from level " + std::to_string(from) + " to level " +
                                std::to_string(level));
  }
  seal::Ciphertext out;
  ctx.evaluator().mod_switch_to(a, ParmsAtLevel(ctx, level), out);
  return out;
}

seal::Ciphertext AlignTo(const PublicContext& ctx, const seal::Ciphertext& a, int level, double scale) {
  const int from = ctx.Level(a);
  if (seal::util::are_close(a.scale(), scale)) {
    if (from == level) return a;
    seal::Ciphertext out = ModSwitchTo(ctx, a, level);
    out.scale() = scale;
    return out;
  }
  if (from <= level) {
    std::ostringstream msg;
    msg << "cannot change the scale of a ciphertext at level " << from << " from " << ScaleString(a.scale()) << " to "
        << ScaleString(scale) << " while reaching level " << level << ": that takes one level";
    throw std::invalid_argument(msg.str());
  }
  seal::Ciphertext high = from == level + 1 ? a : ModSwitchTo(ctx, a, level + 1);
  // Multiply by 1 at scale sigma so that (a.scale * sigma) / q = scale exactly.
  const double sigma = scale * RescalePrime(ctx, high) / high.scale();
  if (!(sigma >= 2.0 && sigma < 0x1p62)) {
    throw std::invalid_argument("cannot align scale " + ScaleString(high.scale()) + " to " + ScaleString(scale) +
                                ": the compensating factor is out of range");
  }
  seal::Ciphertext out;
  MultiplyAccumulateConstant(ctx, high, 1.0, sigma, out);
  ctx.evaluator().rescale_to_next_inplace(out);
  out.scale() = scale;
  return out;
}

}  // namespace he_tf
