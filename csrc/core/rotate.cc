#include "rotate.h"

#include <stdexcept>
#include <string>

#include "arith.h"
#include "plans.h"
#include "seal/util/galois.h"

namespace he_tf {
namespace {

bool HasKey(const PublicContext& ctx, int steps) {
  const auto* tool = ctx.seal_context().key_context_data()->galois_tool();
  return ctx.galois_keys().size() > 0 && ctx.galois_keys().has_key(tool->get_elt_from_step(steps));
}

// The key-switching rotations Rotate performs for `steps`.
std::vector<int> RotationPlan(const PublicContext& ctx, int steps) {
  const int slots = static_cast<int>(ctx.slot_count());
  steps = NormalizeRotation(steps, slots);
  if (steps == 0) return {};
  if (HasKey(ctx, steps)) return {steps};
  const std::vector<int> plan = NafRotations(steps, slots);
  for (int step : plan) {
    if (step != 0 && !HasKey(ctx, step)) {
      throw std::invalid_argument("no Galois key for a rotation by " + std::to_string(steps) + " (nor for its part " +
                                  std::to_string(step) + "); generate the KeySet with rotations=[" +
                                  std::to_string(steps) + ", ...] or rotations='power_of_two'");
    }
  }
  return plan;
}

}  // namespace

seal::Ciphertext Rotate(const PublicContext& ctx, const seal::Ciphertext& a, int steps) {
  seal::Ciphertext out = a;
  for (int step : RotationPlan(ctx, steps)) {
    if (step != 0) ctx.evaluator().rotate_vector_inplace(out, step, ctx.galois_keys());
  }
  return out;
}

seal::Ciphertext SumSlots(const PublicContext& ctx, const seal::Ciphertext& a, std::size_t n) {
  if (n <= 1) return a;
  CheckCanRescale(ctx, a, "reduce_sum over the packed axis (the mask that clears partial sums)");
  seal::Ciphertext sum = a;
  for (int step : SumSlotsRotations(n)) ctx.evaluator().add_inplace(sum, Rotate(ctx, sum, step));
  // Slot j > 0 now holds a partial sum (slots [j, n) summed): keep slot 0 only.
  const double one = 1.0;
  seal::Ciphertext out = MultiplyPlain(ctx, sum, EncodeAt(ctx, &one, 1, sum.parms_id(), RescalePrime(ctx, sum)));
  out.scale() = a.scale();
  return out;
}

}  // namespace he_tf
