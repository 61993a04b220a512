#include "poly.h"

#include <stdexcept>
#include <string>

#include "arith.h"

namespace he_tf {

seal::Ciphertext PolyEval(const PublicContext& ctx, const seal::Ciphertext& a, const std::vector<double>& coeffs,
                          std::size_t num_values) {
  if (coeffs.empty()) throw std::invalid_argument("polyval needs at least one coefficient");
  const std::size_t degree = coeffs.size() - 1;
  const int target = ctx.Level(a) - PolyDepth(degree);
  if (target < 0) {
    throw std::invalid_argument("a polynomial of degree " + std::to_string(degree) + " needs " +
                                std::to_string(PolyDepth(degree)) + " levels but the ciphertext has " +
                                std::to_string(ctx.Level(a)) + "; use he_tf.Params.for_depth with a larger depth");
  }
  std::vector<seal::Ciphertext> powers(degree + 1);
  if (degree >= 1) powers[1] = a;
  for (std::size_t i = 2; i <= degree; ++i) {
    std::size_t high = 1;
    while (high * 2 <= i) high *= 2;
    powers[i] = high == i ? Square(ctx, powers[i / 2]) : Multiply(ctx, powers[high], powers[i - high]);
  }
  const double scale = a.scale();
  seal::Ciphertext acc;
  for (std::size_t i = 1; i <= degree; ++i) {
    if (coeffs[i] == 0.0) continue;
    const seal::Ciphertext term = ModSwitchTo(ctx, powers[i], target + 1);
    // (term.scale * sigma) / q = scale, the same for every term.
    const double sigma = scale * RescalePrime(ctx, term) / term.scale();
    MultiplyAccumulateConstant(ctx, term, coeffs[i], sigma, acc);
  }
  if (acc.size() == 0) {  // constant polynomial
    const seal::Ciphertext base = ModSwitchTo(ctx, a, target + 1);
    MultiplyAccumulateConstant(ctx, base, 0.0, scale * RescalePrime(ctx, base) / base.scale(), acc);
  }
  ctx.evaluator().rescale_to_next_inplace(acc);
  acc.scale() = scale;
  if (coeffs[0] != 0.0) {
    const std::vector<double> constant(num_values, coeffs[0]);
    ctx.evaluator().add_plain_inplace(acc, EncodeAt(ctx, constant.data(), num_values, acc.parms_id(), scale));
  }
  return acc;
}

}  // namespace he_tf
