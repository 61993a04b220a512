// he_tf_seal_bench: the raw-SEAL baseline of the benchmark suite (benchmarks/).
//
// Does per ciphertext the SEAL work of the he-tf kernels (workload.cc), in a
// plain C++ loop, split across std::threads, with the SEAL objects built once.
//
// One-shot: prints the median and minimum seconds per ciphertext over
// `repeats` timed loops of each op as one JSON object:
//   he_tf_seal_bench --params=8192:60,40,40,60:40 --op=add,multiply,rotate:1 --count=64 --repeats=20 --threads=1
// --serve: prints {"ready": ...}, then answers each stdin line with one JSON line:
//   "<params> <op> <count> <min_repeats> <min_seconds>" -> {"samples": [seconds per ciphertext...], ...}
//   "sizes <params>"                                    -> {"sizes": {object: {compression: bytes}}}
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "options.h"
#include "seal/seal.h"
#include "workload.h"

namespace he_tf_bench {
namespace {

// All items of one call into fresh results, in contiguous shards, one per thread.
std::vector<Result> RunCall(const Job& job, int threads) {
  job.setup();
  std::vector<Result> out(static_cast<std::size_t>(job.items));
  auto shard = [&](int begin, int end) {
    for (int i = begin; i < end; ++i) job.run(i, out[static_cast<std::size_t>(i)]);
  };
  if (threads == 1 || job.items == 1) {
    shard(0, job.items);
    return out;
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back(shard, job.items * t / threads, job.items * (t + 1) / threads);
  }
  for (auto& w : workers) w.join();
  return out;
}

class Runner {
 public:
  explicit Runner(const Options& o) : o_(o) {}

  Workload& For(const ParamSpec& params) {
    auto& w = workloads_[params.Token()];
    if (!w) w = std::make_unique<Workload>(params, o_.seed);
    return *w;
  }

  // Seconds per ciphertext of each timed call (>= min_repeats calls, >= min_seconds in all), and the
  // decryption error of the last call. A case's first request starts with warm-up calls.
  std::vector<double> Time(const ParamSpec& params, const std::string& op, int count, int min_repeats,
                           double min_seconds, double* max_error) {
    Workload& workload = For(params);
    const Job job = workload.Prepare(OpSpec::Parse(op), count);
    if (warmed_.insert(params.Token() + " " + op + " " + std::to_string(count)).second) {
      for (int r = 0; r < o_.warmup; ++r) RunCall(job, o_.threads);
    }
    std::vector<double> samples;
    std::vector<Result> last;
    double total = 0;
    while (static_cast<int>(samples.size()) < min_repeats || total < min_seconds) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<Result> out = RunCall(job, o_.threads);
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      samples.push_back(elapsed.count() / count);
      total += elapsed.count();
      last = std::move(out);  // the previous results are freed outside the timed call
    }
    *max_error = workload.MaxError(job, last);
    return samples;
  }

 private:
  Options o_;
  std::map<std::string, std::unique_ptr<Workload>> workloads_;
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

long MaxRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // kilobytes on Linux
}

void OneShot(const Options& o, Runner& runner) {
  std::ostringstream out;
  out.precision(9);
  out << "{\"params\": \"" << o.params.Token() << "\", \"count\": " << o.count << ", \"threads\": " << o.threads
      << ", \"repeats\": " << o.repeats << ", \"results\": {";
  for (std::size_t k = 0; k < o.ops.size(); ++k) {
    double error = 0;
    const std::vector<double> samples = runner.Time(o.params, o.ops[k], o.count, o.repeats, 0.0, &error);
    out << (k ? ", " : "") << "\"" << o.ops[k] << "\": {\"median_s_per_ct\": " << Median(samples)
        << ", \"min_s_per_ct\": " << *std::min_element(samples.begin(), samples.end()) << ", \"max_error\": " << error
        << "}";
  }
  out << "}, \"max_rss_kb\": " << MaxRssKb() << "}";
  std::cout << out.str() << std::endl;
}

std::string Answer(const std::string& line, Runner& runner) {
  std::istringstream in(line);
  std::string first, op;
  in >> first;
  if (first == "sizes") {
    std::string params;
    in >> params;
    return "{\"sizes\": " + runner.For(ParamSpec::Parse(params)).SizesJson() + "}";
  }
  int count = 0, min_repeats = 1;
  double min_seconds = 0;
  in >> op >> count >> min_repeats >> min_seconds;
  if (!in || count < 1) throw std::invalid_argument("expected '<params> <op> <count> <min_repeats> <min_seconds>'");
  double error = 0;
  const std::vector<double> samples =
      runner.Time(ParamSpec::Parse(first), op, count, std::max(1, min_repeats), min_seconds, &error);
  std::ostringstream out;
  out.precision(9);
  out << "{\"samples\": " << JsonList(samples) << ", \"max_error\": " << error << ", \"max_rss_kb\": " << MaxRssKb()
      << "}";
  return out.str();
}

void Serve(const Options& o, Runner& runner) {
  std::cout << "{\"ready\": true, \"impl\": \"seal\", \"seal\": \"" << SEAL_VERSION << "\", \"threads\": " << o.threads
            << ", \"ops\": " << "[";
  for (std::size_t i = 0; i < kOps.size(); ++i) std::cout << (i ? ", " : "") << "\"" << kOps[i] << "\"";
  std::cout << "]}" << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    if (line.empty() || line == "quit") break;
    try {
      std::cout << Answer(line, runner) << std::endl;
    } catch (const std::exception& e) {  // reported to the driver, which names the request
      std::string message = e.what();
      std::replace(message.begin(), message.end(), '"', '\'');
      std::cout << "{\"error\": \"" << message << "\"}" << std::endl;
    }
  }
}

}  // namespace
}  // namespace he_tf_bench

int main(int argc, char** argv) {
  try {
    const he_tf_bench::Options o = he_tf_bench::ParseOptions(argc, argv);
    he_tf_bench::Runner runner(o);
    if (o.serve) {
      he_tf_bench::Serve(o, runner);
    } else {
      he_tf_bench::OneShot(o, runner);
    }
  } catch (const std::exception& e) {
    std::cerr << "he_tf_seal_bench: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
