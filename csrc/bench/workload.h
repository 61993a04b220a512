// The raw-SEAL work of each benchmarked op, per ciphertext as the he-tf
// kernels do it (csrc/core, csrc/tf), with the SEAL objects built once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "options.h"
#include "seal/seal.h"

namespace he_tf_bench {

// What one unit of a timed loop leaves behind; which member is set depends on the op.
struct Result {
  seal::Ciphertext ct;
  seal::Plaintext pt;
  std::string bytes;           // serialized ciphertext
  std::vector<double> values;  // decrypted or decoded values
};

// One op at one size. A timed call runs `setup` (the serial part of a kernel,
// e.g. encoding a matrix's diagonals) and then `run(i, out)` for every i <
// `items`, split across threads like TF's ParallelFor.
struct Job {
  int items = 0;
  std::function<void()> setup = [] {};
  std::function<void(int, Result&)> run;
  std::function<std::vector<double>(int)> expected;  // what result i decodes to
  std::size_t check = 0;                             // slots compared
};

// The SEAL objects of one parameter set and inputs made on demand, all
// outside the timed loops.
class Workload {
 public:
  Workload(const ParamSpec& params, std::uint64_t seed);

  Job Prepare(const OpSpec& op, int count);
  // Largest |decoded - expected| over the first and last results.
  double MaxError(const Job& job, const std::vector<Result>& results) const;
  // Serialized bytes of a ciphertext and of each key, per compression mode, as a JSON object.
  std::string SizesJson();

 private:
  struct Diagonals;

  void EnsureInputs(int count);
  void EnsureGaloisKeys();
  const std::vector<seal::Ciphertext>& ShortInputs(std::size_t length, int count);
  std::vector<double> RandomRow(std::size_t length);
  seal::Ciphertext EncryptRow(const std::vector<double>& row) const;
  std::vector<double> Decode(const Result& r) const;
  seal::parms_id_type ParmsAtLevel(std::size_t level) const;
  std::size_t Level(const seal::Ciphertext& ct) const;
  double RescalePrime(const seal::Ciphertext& ct) const;
  // acc (+)= a * round(value * constant_scale): he-tf's RNS scalar multiply-accumulate.
  void MultiplyAccumulate(const seal::Ciphertext& a, double value, double constant_scale, seal::Ciphertext& acc) const;
  void Rotate(seal::Ciphertext& ct, int steps) const;
  void SumSlots(seal::Ciphertext& ct, std::size_t n) const;
  void MultiplyRescale(const seal::Ciphertext& a, const seal::Ciphertext& b, seal::Ciphertext& out) const;
  void SquareRescale(const seal::Ciphertext& a, seal::Ciphertext& out) const;
  void PolyEval(const seal::Ciphertext& a, const std::vector<double>& coeffs, seal::Ciphertext& out) const;
  std::shared_ptr<Diagonals> EncodeDiagonals(const std::vector<double>& w, std::size_t in, std::size_t out,
                                             seal::parms_id_type parms) const;
  void ApplyDiagonals(const Diagonals& d, const seal::Ciphertext& x, seal::Ciphertext& out) const;

  seal::SEALContext context_;
  seal::KeyGenerator keygen_;
  seal::CKKSEncoder encoder_;
  seal::Evaluator evaluator_;
  mutable seal::Decryptor decryptor_;  // decrypt is not const in SEAL; it is thread-safe
  std::unique_ptr<seal::Encryptor> encryptor_;  // public and secret key
  seal::RelinKeys relin_keys_;
  seal::GaloisKeys galois_keys_;
  bool have_galois_keys_ = false;
  std::size_t slots_;
  double scale_;
  std::mt19937_64 rng_;
  std::vector<std::vector<double>> a_values_, b_values_, p_values_;
  std::vector<seal::Ciphertext> a_, b_;
  std::vector<std::string> serialized_;  // a_, compressed
  std::map<std::size_t, std::vector<seal::Ciphertext>> short_;  // first `length` values of a_values_, zeros after
};

}  // namespace he_tf_bench
