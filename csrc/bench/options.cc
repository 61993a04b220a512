#include "options.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

namespace he_tf_bench {
namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
  return parts;
}

}  // namespace

Options ParseOptions(int argc, char** argv) {
  Options o;
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    if (arg == "--serve") {
      o.serve = true;
    } else if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      kv[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
    } else {
      throw std::invalid_argument("expected --name=value or --serve, got '" + arg + "'");
    }
  }
  auto take = [&](const char* name, auto set) {
    const auto it = kv.find(name);
    if (it == kv.end()) return;
    set(it->second);
    kv.erase(it);
  };
  take("poly_modulus_degree", [&](const std::string& v) { o.poly_modulus_degree = std::stoul(v); });
  take("coeff_mod_bit_sizes", [&](const std::string& v) {
    o.coeff_mod_bit_sizes.clear();
    for (const auto& b : Split(v)) o.coeff_mod_bit_sizes.push_back(std::stoi(b));
  });
  take("scale_bits", [&](const std::string& v) { o.scale_bits = std::stoi(v); });
  take("op", [&](const std::string& v) { o.ops = Split(v); });
  take("count", [&](const std::string& v) { o.count = std::stoi(v); });
  take("repeats", [&](const std::string& v) { o.repeats = std::stoi(v); });
  take("warmup", [&](const std::string& v) { o.warmup = std::stoi(v); });
  take("threads", [&](const std::string& v) { o.threads = std::stoi(v); });
  take("step", [&](const std::string& v) { o.step = std::stoi(v); });
  take("seed", [&](const std::string& v) { o.seed = std::stoull(v); });
  if (!kv.empty()) throw std::invalid_argument("unknown option --" + kv.begin()->first);
  if (o.count < 1 || o.repeats < 1 || o.warmup < 0 || o.threads < 1) {
    throw std::invalid_argument("count, repeats and threads must be >= 1 and warmup >= 0");
  }
  for (const auto& op : o.ops) {
    if (std::find(kOps.begin(), kOps.end(), op) == kOps.end()) {
      throw std::invalid_argument("unknown op '" + op + "' (add, multiply_plain, multiply, rotate)");
    }
  }
  return o;
}

}  // namespace he_tf_bench
