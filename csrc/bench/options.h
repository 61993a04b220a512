// Command-line options of he_tf_seal_bench.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace he_tf_bench {

inline const std::vector<std::string> kOps = {"add", "multiply_plain", "multiply", "rotate"};

struct Options {
  std::size_t poly_modulus_degree = 8192;
  std::vector<int> coeff_mod_bit_sizes = {60, 40, 40, 60};
  int scale_bits = 40;
  std::vector<std::string> ops = {"add"};
  int count = 64;     // ciphertexts per timed loop
  int repeats = 20;   // timed loops per op (one-shot mode)
  int warmup = 2;     // untimed loops before an op's first timed one
  int threads = 1;    // std::threads splitting each loop
  int step = 1;       // rotation step
  std::uint64_t seed = 0;
  bool serve = false;  // read "<op> <min_repeats> <min_seconds>" lines from stdin
};

// Parses --name=value arguments (and the flag --serve); throws
// std::invalid_argument on anything unknown or out of range.
Options ParseOptions(int argc, char** argv);

}  // namespace he_tf_bench
