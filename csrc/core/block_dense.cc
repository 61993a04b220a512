#include "block_dense.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "arith.h"
#include "plans.h"
#include "rotate.h"

namespace he_tf {
BlockDense::BlockDense(const PublicContext& ctx, const double* weights, const double* bias, std::size_t cts,
                       std::size_t blocks, std::size_t samples, std::size_t outputs, int level, double scale,
                       std::size_t imaginary_samples)
    : ctx_(ctx), cts_(cts), level_(level), scale_(scale), prime_(0.0) {
  const std::size_t slots = ctx.slot_count();
  BlockDenseRotations(slots, samples, blocks, outputs);  // checks the layout
  if (cts == 0) throw std::invalid_argument("block dense: no input ciphertexts");
  if (level < 1) throw std::invalid_argument("block dense: the input has no level left for the product");
  const std::size_t per = slots / samples;
  const seal::parms_id_type parms = ParmsAtLevel(ctx, level);
  const double prime = static_cast<double>(
      ctx.seal_context().get_context_data(parms)->parms().coeff_modulus().back().value());
  prime_ = prime;
  const seal::parms_id_type result_parms = ParmsAtLevel(ctx, level - 1);
  if (imaginary_samples > samples) throw std::invalid_argument("block dense: more imaginary samples than samples");
  std::vector<double> values(slots), imag(imaginary_samples > 0 ? slots : 0);
  const std::size_t out_cts = (outputs + per - 1) / per;
  groups_.resize(out_cts);
  bias_.resize(out_cts);
  for (std::size_t r = 0; r < out_cts; ++r) {
    const std::size_t first = r * per, count = std::min(per, outputs - first);
    for (long s = -static_cast<long>(count) + 1; s < static_cast<long>(blocks); ++s) {
      Group group{static_cast<int>(s * static_cast<long>(samples)), {}, {}};
      for (std::size_t j = 0; j < cts; ++j) {
        std::fill(values.begin(), values.end(), 0.0);
        bool any = false;
        for (std::size_t d = 0; d < count; ++d) {
          const long k = static_cast<long>(d) + s;  // the input block that lands in output block d
          if (k < 0 || k >= static_cast<long>(blocks)) continue;
          const double w = weights[(j * blocks + static_cast<std::size_t>(k)) * outputs + first + d];
          if (w == 0.0) continue;
          std::fill(values.begin() + k * samples, values.begin() + (k + 1) * samples, w);
          any = true;
        }
        if (!any) continue;
        group.inputs.push_back(j);
        group.weights.push_back(EncodeAt(ctx, values.data(), slots, parms, prime));
      }
      if (!group.inputs.empty()) groups_[r].push_back(std::move(group));
    }
    if (groups_[r].empty()) groups_[r].push_back(Group{0, {0}, {}});  // all-zero weights: 0 * x[0]
    std::fill(values.begin(), values.end(), 0.0);
    for (std::size_t d = 0; d < count; ++d) {
      std::fill(values.begin() + d * samples, values.begin() + (d + 1) * samples, bias[first + d]);
    }
    for (std::size_t d = 0; d < count && !imag.empty(); ++d) {
      std::fill(imag.begin() + d * samples, imag.begin() + d * samples + imaginary_samples, bias[first + d]);
    }
    bias_[r] = EncodeAt(ctx, values.data(), count * samples, result_parms, scale, imag.empty() ? nullptr : imag.data());
  }
}

seal::Ciphertext BlockDense::Term(const std::vector<const seal::Ciphertext*>& x, std::size_t r,
                                  std::size_t g) const {
  if (x.size() != cts_) throw std::invalid_argument("block dense: wrong number of input ciphertexts");
  const Group& group = groups_[r][g];
  const auto& ev = ctx_.evaluator();
  seal::Ciphertext acc, term;
  for (std::size_t i = 0; i < group.inputs.size(); ++i) {
    const seal::Ciphertext& a = *x[group.inputs[i]];
    if (ctx_.Level(a) != level_ || a.scale() != scale_) {
      throw std::invalid_argument("block dense: the layer was prepared for level " + std::to_string(level_) +
                                  " and scale " + std::to_string(scale_) + ", an input ciphertext differs");
    }
    if (group.weights.empty()) {
      MultiplyAccumulateConstant(ctx_, a, 0.0, prime_, acc);
    } else if (i == 0) {
      ev.multiply_plain(a, group.weights[i], acc);
    } else {
      ev.multiply_plain(a, group.weights[i], term);
      ev.add_inplace(acc, term);
    }
  }
  // Rotated before the rescale: the key switch's noise is then divided by the prime the rescale drops.
  return group.shift == 0 ? acc : Rotate(ctx_, acc, group.shift);
}

seal::Ciphertext BlockDense::Finish(std::vector<seal::Ciphertext> terms, std::size_t r) const {
  if (terms.empty()) throw std::invalid_argument("block dense: no terms");
  const auto& ev = ctx_.evaluator();
  seal::Ciphertext result = std::move(terms[0]);
  for (std::size_t i = 1; i < terms.size(); ++i) ev.add_inplace(result, terms[i]);
  ev.rescale_to_next_inplace(result);
  result.scale() = scale_;
  ev.add_plain_inplace(result, bias_[r]);
  return result;
}

}  // namespace he_tf
