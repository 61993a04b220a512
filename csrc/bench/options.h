// Command-line options and request fields of he_tf_seal_bench.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace he_tf_bench {

// CKKS parameters as one token, "N:bits,bits,...:scale_bits", e.g. "8192:60,40,40,60:40".
struct ParamSpec {
  std::size_t poly_modulus_degree = 8192;
  std::vector<int> coeff_mod_bit_sizes = {60, 40, 40, 60};
  int scale_bits = 40;

  static ParamSpec Parse(const std::string& token);
  std::string Token() const;
};

// An op with its size argument, "name" or "name:arg", e.g. "rotate:1",
// "polyval:7", "matmul_vector:64x64" (rows x columns of the plaintext matrix).
struct OpSpec {
  std::string name;
  int arg0 = 0, arg1 = 0;

  static OpSpec Parse(const std::string& token);
};

// Every op the harness knows, in the benchmark grid's order.
inline const std::vector<std::string> kOps = {
    "encode",   "encrypt_public", "encrypt_secret", "decrypt",      "add",           "add_plain",
    "multiply_plain", "multiply", "square",         "rotate",       "sum_slots",     "dot",
    "matmul_batch", "matmul_vector", "polyval",     "serialize",    "deserialize",
    "deserialize_validated"};

struct Options {
  ParamSpec params;
  std::vector<std::string> ops = {"add"};  // one-shot mode
  int count = 64;                          // ciphertexts per timed loop (one-shot mode)
  int repeats = 20;                        // timed loops per op (one-shot mode)
  int warmup = 2;                          // untimed loops before an op's first timed one
  int threads = 1;                         // std::threads splitting each loop
  std::uint64_t seed = 0;
  bool serve = false;  // answer request lines on stdin (see seal_loop.cc)
};

// Parses --name=value arguments (and the flag --serve); throws
// std::invalid_argument on anything unknown or out of range.
Options ParseOptions(int argc, char** argv);

std::vector<std::string> Split(const std::string& s, char separator);

}  // namespace he_tf_bench
