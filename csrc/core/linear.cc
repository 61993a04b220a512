#include "linear.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "arith.h"
#include "plans.h"
#include "rotate.h"

namespace he_tf {

seal::Ciphertext DotWithConstants(const PublicContext& ctx, const std::vector<const seal::Ciphertext*>& cts,
                                  const double* weights, std::size_t stride) {
  if (cts.empty()) throw std::invalid_argument("cannot contract an empty axis");
  CheckCanRescale(ctx, *cts[0], "matmul");
  for (const seal::Ciphertext* ct : cts) CheckSameLevelAndScale(ctx, *cts[0], *ct, "matmul");
  const double prime = RescalePrime(ctx, *cts[0]);
  // Zero weights add nothing: a sparse matrix (a convolution's) costs its non-zeros only. An all-zero
  // column still gives an encryption of zero at the right level (the first term, times 0).
  seal::Ciphertext acc;
  for (std::size_t i = 0; i < cts.size(); ++i) {
    if (weights[i * stride] != 0.0) MultiplyAccumulateConstant(ctx, *cts[i], weights[i * stride], prime, acc);
  }
  if (acc.size() == 0) MultiplyAccumulateConstant(ctx, *cts[0], 0.0, prime, acc);
  const double scale = cts[0]->scale();
  ctx.evaluator().rescale_to_next_inplace(acc);
  acc.scale() = scale;
  return acc;
}

// Output slot j needs x[(j + i) mod in] for i < in, so x is laid out
// cyclically over in + out - 1 slots, by doubling (copies rounded up to a
// power of two).
DiagonalMatMul::DiagonalMatMul(const PublicContext& ctx, const double* weights, std::size_t in, std::size_t out,
                               int level)
    : ctx_(ctx), in_(in), out_(out) {
  const std::size_t slots = ctx.slot_count();
  const DiagonalPlan plan = PlanDiagonal(in, out, slots);
  copies_ = plan.copies;
  baby_ = plan.baby;
  const std::size_t giants = plan.giants;
  const seal::parms_id_type parms = ParmsAtLevel(ctx, level);
  const double prime = static_cast<double>(
      ctx.seal_context().get_context_data(parms)->parms().coeff_modulus().back().value());
  diagonals_.resize(giants * baby_);
  nonzero_.assign(giants * baby_, false);
  std::vector<double> diag(slots);
  for (std::size_t g = 0; g < giants; ++g) {
    for (std::size_t b = 0; b < baby_; ++b) {
      const std::size_t i = g * baby_ + b;
      if (i >= in) continue;
      // diag_i[j] = W[(j + i) mod in, j], placed at slot j + g*baby_ so that
      // the giant rotation left by g*baby_ brings it to slot j.
      std::fill(diag.begin(), diag.end(), 0.0);
      bool any = false;
      for (std::size_t j = 0; j < out; ++j) {
        const double w = weights[((j + i) % in) * out + j];
        diag[(j + g * baby_) % slots] = w;
        any = any || w != 0.0;
      }
      if (!any) continue;
      diagonals_[i] = EncodeAt(ctx, diag.data(), slots, parms, prime);
      nonzero_[i] = true;
    }
  }
}

seal::Ciphertext DiagonalMatMul::Apply(const seal::Ciphertext& x) const {
  CheckCanRescale(ctx_, x, "matmul");
  for (std::size_t i = 0; i < diagonals_.size(); ++i) {
    if (nonzero_[i] && diagonals_[i].parms_id() != x.parms_id()) {
      throw std::invalid_argument("matmul: the matrix was prepared for another level than the ciphertext's");
    }
  }
  const auto& ev = ctx_.evaluator();
  seal::Ciphertext rep = x;
  for (std::size_t have = 1; have < copies_; have <<= 1) {
    ev.add_inplace(rep, Rotate(ctx_, rep, -static_cast<int>(have * in_)));
  }
  std::vector<seal::Ciphertext> baby(baby_);
  baby[0] = rep;
  for (std::size_t b = 1; b < baby_ && b < in_; ++b) baby[b] = Rotate(ctx_, rep, static_cast<int>(b));

  seal::Ciphertext result, term, inner;
  bool have_result = false;
  const std::size_t giants = (in_ + baby_ - 1) / baby_;
  for (std::size_t g = 0; g < giants; ++g) {
    bool have_inner = false;
    for (std::size_t b = 0; b < baby_; ++b) {
      const std::size_t i = g * baby_ + b;
      if (i >= in_ || !nonzero_[i]) continue;
      ev.multiply_plain(baby[b], diagonals_[i], term);
      if (have_inner) {
        ev.add_inplace(inner, term);
      } else {
        inner = term;
        have_inner = true;
      }
    }
    if (!have_inner) continue;
    if (g > 0) inner = Rotate(ctx_, inner, static_cast<int>(g * baby_));
    if (have_result) {
      ev.add_inplace(result, inner);
    } else {
      result = inner;
      have_result = true;
    }
  }
  if (!have_result) MultiplyAccumulateConstant(ctx_, x, 0.0, RescalePrime(ctx_, x), result);  // zero matrix
  ev.rescale_to_next_inplace(result);
  result.scale() = x.scale();
  return result;
}

}  // namespace he_tf
