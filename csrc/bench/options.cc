#include "options.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

namespace he_tf_bench {

std::vector<std::string> Split(const std::string& s, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

ParamSpec ParamSpec::Parse(const std::string& token) {
  const std::vector<std::string> fields = Split(token, ':');
  if (fields.size() != 3) throw std::invalid_argument("parameters must be N:bits,...:scale_bits, got '" + token + "'");
  ParamSpec p;
  p.poly_modulus_degree = std::stoul(fields[0]);
  p.coeff_mod_bit_sizes.clear();
  for (const auto& b : Split(fields[1], ',')) p.coeff_mod_bit_sizes.push_back(std::stoi(b));
  p.scale_bits = std::stoi(fields[2]);
  return p;
}

std::string ParamSpec::Token() const {
  std::ostringstream out;
  out << poly_modulus_degree << ":";
  for (std::size_t i = 0; i < coeff_mod_bit_sizes.size(); ++i) out << (i ? "," : "") << coeff_mod_bit_sizes[i];
  out << ":" << scale_bits;
  return out.str();
}

OpSpec OpSpec::Parse(const std::string& token) {
  OpSpec op;
  const auto colon = token.find(':');
  op.name = token.substr(0, colon);
  if (std::find(kOps.begin(), kOps.end(), op.name) == kOps.end()) {
    throw std::invalid_argument("unknown op '" + op.name + "'");
  }
  if (colon != std::string::npos) {
    const std::vector<std::string> args = Split(token.substr(colon + 1), 'x');
    op.arg0 = std::stoi(args.at(0));
    if (args.size() > 1) op.arg1 = std::stoi(args[1]);
  }
  // Defaults: rotate by 1, degree-3 polynomial, 16x16 matrices.
  if (op.name == "rotate" && colon == std::string::npos) op.arg0 = 1;
  if (op.name == "polyval" && op.arg0 < 1) op.arg0 = 3;
  if (op.name.rfind("matmul_", 0) == 0) {
    if (op.arg0 < 1) op.arg0 = 16;
    if (op.arg1 < 1) op.arg1 = op.arg0;
  }
  return op;
}

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
  take("params", [&](const std::string& v) { o.params = ParamSpec::Parse(v); });
  take("op", [&](const std::string& v) { o.ops = Split(v, ','); });
  take("count", [&](const std::string& v) { o.count = std::stoi(v); });
  take("repeats", [&](const std::string& v) { o.repeats = std::stoi(v); });
  take("warmup", [&](const std::string& v) { o.warmup = std::stoi(v); });
  take("threads", [&](const std::string& v) { o.threads = std::stoi(v); });
  take("seed", [&](const std::string& v) { o.seed = std::stoull(v); });
  if (!kv.empty()) throw std::invalid_argument("unknown option --" + kv.begin()->first);
  if (o.count < 1 || o.repeats < 1 || o.warmup < 0 || o.threads < 1) {
    throw std::invalid_argument("count, repeats and threads must be >= 1 and warmup >= 0");
  }
  for (const auto& op : o.ops) OpSpec::Parse(op);  // throws on unknown ops
  return o;
}

}  // namespace he_tf_bench
