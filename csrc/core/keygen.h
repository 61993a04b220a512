// Key generation for one key set, producing its two halves as bytes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "params.h"

namespace he_tf {

struct KeySetBytes {
  std::string public_context;  // parameters, public, relinearization and Galois keys
  std::string secret_key;
};

// `rotation_steps`: Galois keys for exactly these slot rotations; std::nullopt
// for every power of two (both directions), an empty vector for none.
KeySetBytes GenerateKeys(const CkksParams& params, const std::optional<std::vector<int>>& rotation_steps);

}  // namespace he_tf
