// he_tf_seal_bench: the raw-SEAL baseline for benchmarks/ops_vs_seal.py.
//
// Does per ciphertext exactly the SEAL work of the he-tf kernels, in a plain
// C++ loop over `count` ciphertexts, with the SEAL objects built once.
//
// One-shot: prints the median and minimum seconds per ciphertext over
// `repeats` timed loops of each op as one JSON object:
//   he_tf_seal_bench --op=add,multiply_plain,multiply,rotate --count=64 --repeats=20 --threads=1 --step=1 \
//       --poly_modulus_degree=8192 --coeff_mod_bit_sizes=60,40,40,60 --scale_bits=40
// --serve: prints {"ready": ...}, then answers each stdin line
// "<op> <min_repeats> <min_seconds>" with one JSON line of per-loop samples,
// so that a driver can interleave it with other measurements.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "options.h"
#include "seal/seal.h"

namespace he_tf_bench {
namespace {

using Kernel = std::function<void(int, seal::Ciphertext&)>;

class Bench {
 public:
  explicit Bench(const Options& o)
      : o_(o),
        context_(MakeContext(o)),
        keygen_(context_),
        encoder_(context_),
        evaluator_(context_),
        decryptor_(context_, keygen_.secret_key()),
        slots_(encoder_.slot_count()),
        rng_(o.seed) {
    seal::PublicKey pk;
    keygen_.create_public_key(pk);
    encryptor_ = std::make_unique<seal::Encryptor>(context_, pk);
    keygen_.create_relin_keys(relin_keys_);
    if (std::find(o.ops.begin(), o.ops.end(), "rotate") != o.ops.end()) {
      keygen_.create_galois_keys(std::vector<int>{o.step}, galois_keys_);
    }
    const double scale = std::ldexp(1.0, o.scale_bits);
    for (int i = 0; i < o.count; ++i) {
      a_values_.push_back(RandomRow());
      b_values_.push_back(RandomRow());
      plain_values_.push_back(RandomRow());
      a_.push_back(Encrypt(a_values_.back(), scale));
      b_.push_back(Encrypt(b_values_.back(), scale));
    }
  }

  // Seconds per ciphertext of each timed loop: at least `min_repeats` loops
  // and `min_seconds` in all. An op's first call starts with warm-up loops.
  std::vector<double> Time(const std::string& op, int min_repeats, double min_seconds) {
    const Kernel kernel = KernelFor(op);
    if (warmed_.insert(op).second) {
      for (int r = 0; r < o_.warmup; ++r) RunLoop(kernel);
    }
    std::vector<double> samples;
    double total = 0;
    while (static_cast<int>(samples.size()) < min_repeats || total < min_seconds) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<seal::Ciphertext> out = RunLoop(kernel);
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      samples.push_back(elapsed.count() / o_.count);
      total += elapsed.count();
      last_ = std::move(out);  // the previous results are freed outside the timed loop
    }
    return samples;
  }

  // Largest |decrypted - expected| over the first and last results of the
  // latest loop: the timed work must compute the right thing.
  double MaxError(const std::string& op) {
    double error = 0;
    for (int i : {0, o_.count - 1}) {
      seal::Plaintext plain;
      decryptor_.decrypt(last_[i], plain);
      std::vector<double> got;
      encoder_.decode(plain, got);
      const auto n = static_cast<std::int64_t>(slots_);
      for (std::int64_t j = 0; j < n; ++j) {
        const double a = a_values_[i][j];
        double want = a + b_values_[i][j];
        if (op == "multiply_plain") want = a * plain_values_[i][j];
        if (op == "multiply") want = a * b_values_[i][j];
        if (op == "rotate") want = a_values_[i][((j + o_.step) % n + n) % n];  // left by `step`
        error = std::max(error, std::fabs(got[j] - want));
      }
    }
    return error;
  }

 private:
  // As he-tf builds it: full modulus chain, 128-bit security enforced.
  static seal::SEALContext MakeContext(const Options& o) {
    seal::EncryptionParameters parms(seal::scheme_type::ckks);
    parms.set_poly_modulus_degree(o.poly_modulus_degree);
    parms.set_coeff_modulus(seal::CoeffModulus::Create(o.poly_modulus_degree, o.coeff_mod_bit_sizes));
    seal::SEALContext context(parms, /*expand_mod_chain=*/true, seal::sec_level_type::tc128);
    if (!context.parameters_set()) throw std::invalid_argument(context.parameter_error_message());
    return context;
  }

  // One ciphertext's worth of the he-tf kernel's work for `op`.
  Kernel KernelFor(const std::string& op) const {
    if (op == "add") {
      return [this](int i, seal::Ciphertext& out) { evaluator_.add(a_[i], b_[i], out); };
    }
    if (op == "multiply_plain") {
      return [this](int i, seal::Ciphertext& out) {
        // Encoded at the value of the prime the rescale drops, so the result
        // keeps the ciphertext's scale.
        const auto data = context_.get_context_data(a_[i].parms_id());
        const double scale = static_cast<double>(data->parms().coeff_modulus()[data->chain_index()].value());
        seal::Plaintext plain;
        encoder_.encode(plain_values_[i], a_[i].parms_id(), scale, plain);
        evaluator_.multiply_plain(a_[i], plain, out);
        evaluator_.rescale_to_next_inplace(out);
      };
    }
    if (op == "multiply") {
      return [this](int i, seal::Ciphertext& out) {
        evaluator_.multiply(a_[i], b_[i], out);
        evaluator_.relinearize_inplace(out, relin_keys_);
        evaluator_.rescale_to_next_inplace(out);
      };
    }
    return [this](int i, seal::Ciphertext& out) { evaluator_.rotate_vector(a_[i], o_.step, galois_keys_, out); };
  }

  // All `count` ciphertexts into fresh results, in contiguous shards, one per thread.
  std::vector<seal::Ciphertext> RunLoop(const Kernel& kernel) const {
    std::vector<seal::Ciphertext> out(static_cast<std::size_t>(o_.count));
    auto shard = [&](int begin, int end) {
      for (int i = begin; i < end; ++i) kernel(i, out[static_cast<std::size_t>(i)]);
    };
    if (o_.threads == 1) {
      shard(0, o_.count);
      return out;
    }
    std::vector<std::thread> workers;
    for (int t = 0; t < o_.threads; ++t) {
      workers.emplace_back(shard, o_.count * t / o_.threads, o_.count * (t + 1) / o_.threads);
    }
    for (auto& w : workers) w.join();
    return out;
  }

  std::vector<double> RandomRow() {
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> row(slots_);
    for (double& v : row) v = uniform(rng_);
    return row;
  }

  seal::Ciphertext Encrypt(const std::vector<double>& values, double scale) const {
    seal::Plaintext plain;
    encoder_.encode(values, scale, plain);
    seal::Ciphertext ct;
    encryptor_->encrypt(plain, ct);
    return ct;
  }

  Options o_;
  seal::SEALContext context_;
  seal::KeyGenerator keygen_;
  seal::CKKSEncoder encoder_;
  seal::Evaluator evaluator_;
  seal::Decryptor decryptor_;
  std::unique_ptr<seal::Encryptor> encryptor_;
  seal::RelinKeys relin_keys_;
  seal::GaloisKeys galois_keys_;
  std::size_t slots_;
  std::mt19937_64 rng_;
  std::vector<std::vector<double>> a_values_, b_values_, plain_values_;
  std::vector<seal::Ciphertext> a_, b_, last_;
  std::set<std::string> warmed_;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string JsonList(const std::vector<double>& v) {
  std::ostringstream out;
  out.precision(9);
  out << "[";
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
  out << "]";
  return out.str();
}

std::string ParamsJson(const Options& o) {
  std::vector<double> bits(o.coeff_mod_bit_sizes.begin(), o.coeff_mod_bit_sizes.end());
  std::ostringstream out;
  out << "\"poly_modulus_degree\": " << o.poly_modulus_degree << ", \"coeff_mod_bit_sizes\": " << JsonList(bits)
      << ", \"scale_bits\": " << o.scale_bits << ", \"count\": " << o.count << ", \"threads\": " << o.threads
      << ", \"step\": " << o.step;
  return out.str();
}

void OneShot(const Options& o, Bench& bench) {
  std::ostringstream out;
  out.precision(9);
  out << "{" << ParamsJson(o) << ", \"repeats\": " << o.repeats << ", \"results\": {";
  for (std::size_t k = 0; k < o.ops.size(); ++k) {
    const std::vector<double> samples = bench.Time(o.ops[k], o.repeats, 0.0);
    out << (k ? ", " : "") << "\"" << o.ops[k] << "\": {\"median_s_per_ct\": " << Median(samples)
        << ", \"min_s_per_ct\": " << *std::min_element(samples.begin(), samples.end())
        << ", \"max_error\": " << bench.MaxError(o.ops[k]) << "}";
  }
  out << "}}";
  std::cout << out.str() << std::endl;
}

void Serve(const Options& o, Bench& bench) {
  std::cout << "{\"ready\": true, " << ParamsJson(o) << "}" << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string op;
    int min_repeats = 1;
    double min_seconds = 0;
    in >> op >> min_repeats >> min_seconds;
    if (op.empty() || op == "quit") break;
    if (std::find(o.ops.begin(), o.ops.end(), op) == o.ops.end()) {
      std::cout << "{\"op\": \"" << op << "\", \"error\": \"not set up; pass it in --op\"}" << std::endl;
      continue;
    }
    const std::vector<double> samples = bench.Time(op, std::max(1, min_repeats), min_seconds);
    std::ostringstream out;
    out.precision(9);
    out << "{\"op\": \"" << op << "\", \"samples\": " << JsonList(samples) << ", \"max_error\": " << bench.MaxError(op)
        << "}";
    std::cout << out.str() << std::endl;
  }
}

}  // namespace
}  // namespace he_tf_bench

int main(int argc, char** argv) {
  try {
    const he_tf_bench::Options o = he_tf_bench::ParseOptions(argc, argv);
    he_tf_bench::Bench bench(o);
    if (o.serve) {
      he_tf_bench::Serve(o, bench);
    } else {
      he_tf_bench::OneShot(o, bench);
    }
  } catch (const std::exception& e) {
    std::cerr << "he_tf_seal_bench: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
