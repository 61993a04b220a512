#include "plans.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace he_tf {

DiagonalPlan PlanDiagonal(std::size_t in, std::size_t out, std::size_t slots) {
  if (in == 0 || out == 0) throw std::invalid_argument("matmul with an empty matrix");
  DiagonalPlan plan;
  plan.in = in;
  plan.out = out;
  const std::size_t needed = (in + out - 1 + in - 1) / in;
  while (plan.copies < needed) plan.copies <<= 1;
  if (plan.copies * in > slots && !(in == slots && out <= slots)) {
    throw std::invalid_argument("a " + std::to_string(in) + "x" + std::to_string(out) +
                                " matmul on the packed axis needs " + std::to_string(plan.copies * in) +
                                " slots, only " + std::to_string(slots) +
                                " available; use layout='batch' or a larger ring");
  }
  if (in == slots) plan.copies = 1;  // already cyclic over all slots
  plan.baby = static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(in))));
  plan.giants = (in + plan.baby - 1) / plan.baby;
  return plan;
}

std::vector<int> DiagonalPlan::Rotations() const {
  std::vector<int> steps;
  for (std::size_t have = 1; have < copies; have <<= 1) steps.push_back(-static_cast<int>(have * in));
  for (std::size_t b = 1; b < baby && b < in; ++b) steps.push_back(static_cast<int>(b));
  for (std::size_t g = 1; g < giants; ++g) steps.push_back(static_cast<int>(g * baby));
  return steps;
}

std::vector<int> SumSlotsRotations(std::size_t n) {
  std::vector<int> steps;
  if (n <= 1) return steps;
  std::size_t width = 1;
  while (width < n) width <<= 1;
  for (std::size_t step = width >> 1; step >= 1; step >>= 1) steps.push_back(static_cast<int>(step));
  return steps;
}

int NormalizeRotation(int steps, int slots) {
  steps %= slots;
  if (steps < 0) steps += slots;
  return steps > slots / 2 ? steps - slots : steps;
}

std::vector<int> NafRotations(int steps, int slots) {
  steps = NormalizeRotation(steps, slots);
  std::vector<int> plan;
  int rest = steps < 0 ? -steps : steps;
  const int sign = steps < 0 ? -1 : 1;
  for (int bit = 1; rest != 0; bit <<= 1) {
    if (rest & 1) {
      const int digit = 2 - (rest & 3);  // +1 or -1
      rest -= digit;
      plan.push_back(NormalizeRotation(sign * digit * bit, slots));
    }
    rest >>= 1;
  }
  return plan;
}

int PolyDepth(std::size_t degree) {
  int depth = 1;
  for (std::size_t p = 1; p < degree; p <<= 1) ++depth;
  return depth;
}

std::vector<int> BlockDenseRotations(std::size_t slots, std::size_t samples, std::size_t blocks,
                                     std::size_t outputs) {
  if (samples == 0 || blocks == 0 || outputs == 0) {
    throw std::invalid_argument("block dense: samples, blocks and outputs must be positive");
  }
  if (blocks > slots / samples) {
    throw std::invalid_argument("block dense: " + std::to_string(blocks) + " blocks of " + std::to_string(samples) +
                                " samples need more than the " + std::to_string(slots) + " slots");
  }
  const std::size_t per = slots / samples;
  const std::size_t used = outputs < per ? outputs : per;  // output blocks of the fullest ciphertext
  std::vector<int> steps;
  // Input block k lands in output block d: a left rotation by (k - d) blocks.
  for (long s = -static_cast<long>(used) + 1; s < static_cast<long>(blocks); ++s) {
    if (s != 0) steps.push_back(static_cast<int>(s * static_cast<long>(samples)));
  }
  return steps;
}

}  // namespace he_tf
