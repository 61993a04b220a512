#include "workload.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "core/plans.h"
#include "core/seal_load.h"
#include "seal/util/iterator.h"
#include "seal/util/polyarithsmallmod.h"

namespace he_tf_bench {
namespace {

// As he-tf builds it: full modulus chain, 128-bit security enforced.
seal::SEALContext MakeContext(const ParamSpec& p) {
  seal::EncryptionParameters parms(seal::scheme_type::ckks);
  parms.set_poly_modulus_degree(p.poly_modulus_degree);
  parms.set_coeff_modulus(seal::CoeffModulus::Create(p.poly_modulus_degree, p.coeff_mod_bit_sizes));
  seal::SEALContext context(parms, /*expand_mod_chain=*/true, seal::sec_level_type::tc128);
  if (!context.parameters_set()) throw std::invalid_argument(context.parameter_error_message());
  return context;
}

template <class T>
std::size_t SavedBytes(const T& obj, seal::compr_mode_type mode) {
  std::vector<seal::seal_byte> buffer(static_cast<std::size_t>(obj.save_size(mode)));
  return static_cast<std::size_t>(obj.save(buffer.data(), buffer.size(), mode));
}

template <class T>
std::string SaveToString(const T& obj, seal::compr_mode_type mode) {
  std::string out(static_cast<std::size_t>(obj.save_size(mode)), '\0');
  out.resize(static_cast<std::size_t>(obj.save(reinterpret_cast<seal::seal_byte*>(out.data()), out.size(), mode)));
  return out;
}

// Fixed coefficients, lowest degree first, all non-zero so every term costs.
std::vector<double> PolyCoeffs(int degree) {
  std::vector<double> c;
  for (int i = 0; i <= degree; ++i) c.push_back((i % 2 ? -0.5 : 0.5) / (i + 1));
  return c;
}

double Horner(const std::vector<double>& c, double x) {
  double y = 0;
  for (auto it = c.rbegin(); it != c.rend(); ++it) y = y * x + *it;
  return y;
}

}  // namespace

// The diagonal method's plaintexts, as csrc/core/linear.cc prepares them.
struct Workload::Diagonals {
  std::size_t in = 0, out = 0, copies = 1, baby = 1;
  std::vector<seal::Plaintext> plains;  // index giant * baby + b, pre-rotated
  std::vector<bool> nonzero;
};

Workload::Workload(const ParamSpec& params, std::uint64_t seed)
    : context_(MakeContext(params)),
      keygen_(context_),
      encoder_(context_),
      evaluator_(context_),
      decryptor_(context_, keygen_.secret_key()),
      slots_(encoder_.slot_count()),
      scale_(std::ldexp(1.0, params.scale_bits)),
      rng_(seed) {
  seal::PublicKey pk;
  keygen_.create_public_key(pk);
  encryptor_ = std::make_unique<seal::Encryptor>(context_, pk, keygen_.secret_key());
  keygen_.create_relin_keys(relin_keys_);
}

void Workload::EnsureGaloisKeys() {
  if (have_galois_keys_) return;
  keygen_.create_galois_keys(galois_keys_);  // every power-of-two step, as he-tf's default key set
  have_galois_keys_ = true;
}

void Workload::EnsureInputs(int count) {
  while (static_cast<int>(a_.size()) < count) {
    a_values_.push_back(RandomRow(slots_));
    b_values_.push_back(RandomRow(slots_));
    p_values_.push_back(RandomRow(slots_));
    a_.push_back(EncryptRow(a_values_.back()));
    b_.push_back(EncryptRow(b_values_.back()));
    serialized_.push_back(SaveToString(a_.back(), seal::Serialization::compr_mode_default));
  }
}

const std::vector<seal::Ciphertext>& Workload::ShortInputs(std::size_t length, int count) {
  EnsureInputs(count);
  auto& cts = short_[length];
  while (static_cast<int>(cts.size()) < count) {
    const auto& row = a_values_[cts.size()];
    cts.push_back(EncryptRow(std::vector<double>(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(length))));
  }
  return cts;
}

std::vector<double> Workload::RandomRow(std::size_t length) {
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<double> row(length);
  for (double& v : row) v = uniform(rng_);
  return row;
}

seal::Ciphertext Workload::EncryptRow(const std::vector<double>& row) const {
  seal::Plaintext plain;
  encoder_.encode(row, scale_, plain);
  seal::Ciphertext ct;
  encryptor_->encrypt(plain, ct);
  return ct;
}

seal::parms_id_type Workload::ParmsAtLevel(std::size_t level) const {
  for (auto data = context_.first_context_data(); data; data = data->next_context_data()) {
    if (data->chain_index() == level) return data->parms_id();
  }
  throw std::invalid_argument("no level " + std::to_string(level));
}

std::size_t Workload::Level(const seal::Ciphertext& ct) const {
  return context_.get_context_data(ct.parms_id())->chain_index();
}

double Workload::RescalePrime(const seal::Ciphertext& ct) const {
  return static_cast<double>(context_.get_context_data(ct.parms_id())->parms().coeff_modulus().back().value());
}

void Workload::MultiplyAccumulate(const seal::Ciphertext& a, double value, double constant_scale,
                                  seal::Ciphertext& acc) const {
  const auto integer = static_cast<std::int64_t>(std::round(value * constant_scale));
  const auto& moduli = context_.get_context_data(a.parms_id())->parms().coeff_modulus();
  const std::size_t n = a.poly_modulus_degree();
  const bool fresh = acc.size() == 0;
  if (fresh) {
    acc.resize(context_, a.parms_id(), a.size());
    acc.is_ntt_form() = a.is_ntt_form();
  }
  thread_local std::vector<std::uint64_t> product;
  product.resize(n);
  for (std::size_t poly = 0; poly < a.size(); ++poly) {
    for (std::size_t i = 0; i < moduli.size(); ++i) {
      const seal::Modulus& q = moduli[i];
      std::uint64_t residue = static_cast<std::uint64_t>(integer < 0 ? -integer : integer) % q.value();
      if (integer < 0 && residue != 0) residue = q.value() - residue;
      const seal::util::ConstCoeffIter in(a.data(poly) + i * n);
      const seal::util::CoeffIter out(acc.data(poly) + i * n);
      if (fresh) {
        seal::util::multiply_poly_scalar_coeffmod(in, n, residue, q, out);
      } else {
        seal::util::multiply_poly_scalar_coeffmod(in, n, residue, q, seal::util::CoeffIter(product.data()));
        seal::util::add_poly_coeffmod(out, seal::util::ConstCoeffIter(product.data()), n, q, out);
      }
    }
  }
  acc.scale() = a.scale() * constant_scale;
}

// Steps without their own Galois key go through SEAL's non-adjacent form of
// power-of-two keys, the same plan as he-tf's Rotate.
void Workload::Rotate(seal::Ciphertext& ct, int steps) const {
  if (steps != 0) evaluator_.rotate_vector_inplace(ct, steps, galois_keys_);
}

void Workload::SumSlots(seal::Ciphertext& ct, std::size_t n) const {
  std::size_t width = 1;
  while (width < n) width <<= 1;
  seal::Ciphertext rotated;
  for (std::size_t step = width >> 1; step >= 1; step >>= 1) {
    evaluator_.rotate_vector(ct, static_cast<int>(step), galois_keys_, rotated);
    evaluator_.add_inplace(ct, rotated);
  }
}

void Workload::MultiplyRescale(const seal::Ciphertext& a, const seal::Ciphertext& b, seal::Ciphertext& out) const {
  if (a.parms_id() == b.parms_id()) {
    evaluator_.multiply(a, b, out);
  } else {  // the higher operand switched down first
    const bool a_higher = Level(a) > Level(b);
    evaluator_.mod_switch_to(a_higher ? a : b, (a_higher ? b : a).parms_id(), out);
    evaluator_.multiply_inplace(out, a_higher ? b : a);
  }
  evaluator_.relinearize_inplace(out, relin_keys_);
  evaluator_.rescale_to_next_inplace(out);
}

void Workload::SquareRescale(const seal::Ciphertext& a, seal::Ciphertext& out) const {
  evaluator_.square(a, out);
  evaluator_.relinearize_inplace(out, relin_keys_);
  evaluator_.rescale_to_next_inplace(out);
}

// csrc/core/poly.cc: x^i by squaring and products of powers of two, every
// term scaled by its coefficient at the scale that equalizes them, one rescale.
void Workload::PolyEval(const seal::Ciphertext& a, const std::vector<double>& coeffs, seal::Ciphertext& out) const {
  const std::size_t degree = coeffs.size() - 1;
  const int depth = he_tf::PolyDepth(degree);
  const std::size_t target = Level(a) - static_cast<std::size_t>(depth);
  std::vector<seal::Ciphertext> powers(degree + 1);
  powers[1] = a;
  for (std::size_t i = 2; i <= degree; ++i) {
    std::size_t high = 1;
    while (high * 2 <= i) high *= 2;
    if (high == i) {
      SquareRescale(powers[i / 2], powers[i]);
    } else {
      MultiplyRescale(powers[high], powers[i - high], powers[i]);
    }
  }
  const double scale = a.scale();
  out = seal::Ciphertext();
  seal::Ciphertext term;
  for (std::size_t i = 1; i <= degree; ++i) {
    evaluator_.mod_switch_to(powers[i], ParmsAtLevel(target + 1), term);
    MultiplyAccumulate(term, coeffs[i], scale * RescalePrime(term) / term.scale(), out);
  }
  evaluator_.rescale_to_next_inplace(out);
  out.scale() = scale;
  const std::vector<double> constant(slots_, coeffs[0]);
  seal::Plaintext plain;
  encoder_.encode(constant, out.parms_id(), scale, plain);
  evaluator_.add_plain_inplace(out, plain);
}

std::shared_ptr<Workload::Diagonals> Workload::EncodeDiagonals(const std::vector<double>& w, std::size_t in,
                                                               std::size_t out, seal::parms_id_type parms) const {
  auto d = std::make_shared<Diagonals>();
  const he_tf::DiagonalPlan plan = he_tf::PlanDiagonal(in, out, slots_);
  d->in = in;
  d->out = out;
  d->copies = plan.copies;
  d->baby = plan.baby;
  const std::size_t giants = plan.giants;
  const double prime =
      static_cast<double>(context_.get_context_data(parms)->parms().coeff_modulus().back().value());
  d->plains.resize(giants * d->baby);
  d->nonzero.assign(giants * d->baby, false);
  std::vector<double> diag(slots_);
  for (std::size_t g = 0; g < giants; ++g) {
    for (std::size_t b = 0; b < d->baby; ++b) {
      const std::size_t i = g * d->baby + b;
      if (i >= in) continue;
      std::fill(diag.begin(), diag.end(), 0.0);
      for (std::size_t j = 0; j < out; ++j) diag[(j + g * d->baby) % slots_] = w[((j + i) % in) * out + j];
      encoder_.encode(diag, parms, prime, d->plains[i]);
      d->nonzero[i] = true;
    }
  }
  return d;
}

void Workload::ApplyDiagonals(const Diagonals& d, const seal::Ciphertext& x, seal::Ciphertext& result) const {
  seal::Ciphertext rep = x, rotated;
  for (std::size_t have = 1; have < d.copies; have <<= 1) {
    evaluator_.rotate_vector(rep, -static_cast<int>(have * d.in), galois_keys_, rotated);
    evaluator_.add_inplace(rep, rotated);
  }
  std::vector<seal::Ciphertext> baby(d.baby);
  baby[0] = rep;
  for (std::size_t b = 1; b < d.baby && b < d.in; ++b) {
    evaluator_.rotate_vector(rep, static_cast<int>(b), galois_keys_, baby[b]);
  }
  seal::Ciphertext term, inner;
  bool have_result = false;
  const std::size_t giants = (d.in + d.baby - 1) / d.baby;
  for (std::size_t g = 0; g < giants; ++g) {
    bool have_inner = false;
    for (std::size_t b = 0; b < d.baby; ++b) {
      const std::size_t i = g * d.baby + b;
      if (i >= d.in || !d.nonzero[i]) continue;
      evaluator_.multiply_plain(baby[b], d.plains[i], term);
      if (have_inner) {
        evaluator_.add_inplace(inner, term);
      } else {
        inner = term;
        have_inner = true;
      }
    }
    if (!have_inner) continue;
    if (g > 0) Rotate(inner, static_cast<int>(g * d.baby));
    if (have_result) {
      evaluator_.add_inplace(result, inner);
    } else {
      result = inner;
      have_result = true;
    }
  }
  evaluator_.rescale_to_next_inplace(result);
  result.scale() = x.scale();
}

Job Workload::Prepare(const OpSpec& op, int count) {
  EnsureInputs(count);
  const std::string& name = op.name;
  if (name == "rotate" || name == "sum_slots" || name == "dot" || name == "matmul_vector") EnsureGaloisKeys();
  Job job;
  job.items = count;
  job.check = slots_;
  const auto& a = a_;
  const auto& av = a_values_;
  const auto& bv = b_values_;
  const auto& pv = p_values_;
  if (name == "encode") {
    job.run = [this](int i, Result& r) { encoder_.encode(p_values_[i], a_[i].parms_id(), scale_, r.pt); };
    job.expected = [&pv](int i) { return pv[i]; };
  } else if (name == "encrypt_public" || name == "encrypt_secret") {
    const bool secret = name == "encrypt_secret";
    job.run = [this, secret](int i, Result& r) {
      seal::Plaintext plain;
      encoder_.encode(a_values_[i], scale_, plain);
      if (secret) {  // he-tf keeps the seeded form, uncompressed until serialized
        r.bytes = SaveToString(encryptor_->encrypt_symmetric(plain), seal::compr_mode_type::none);
      } else {
        encryptor_->encrypt(plain, r.ct);
      }
    };
    job.expected = [&av](int i) { return av[i]; };
  } else if (name == "decrypt") {
    job.run = [this](int i, Result& r) {
      seal::Plaintext plain;
      decryptor_.decrypt(a_[i], plain);
      encoder_.decode(plain, r.values);
    };
    job.expected = [&av](int i) { return av[i]; };
  } else if (name == "add") {
    job.run = [this](int i, Result& r) { evaluator_.add(a_[i], b_[i], r.ct); };
    job.expected = [&av, &bv](int i) {
      std::vector<double> e(av[i]);
      for (std::size_t j = 0; j < e.size(); ++j) e[j] += bv[i][j];
      return e;
    };
  } else if (name == "add_plain" || name == "multiply_plain" || name == "dot") {
    const bool add = name == "add_plain", sum = name == "dot";
    job.run = [this, add, sum](int i, Result& r) {
      // Plaintexts at the ciphertext's level; multipliers at the prime the
      // rescale drops, so the result keeps the ciphertext's scale.
      seal::Plaintext plain;
      encoder_.encode(p_values_[i], a_[i].parms_id(), add ? a_[i].scale() : RescalePrime(a_[i]), plain);
      if (add) {
        evaluator_.add_plain(a_[i], plain, r.ct);
        return;
      }
      evaluator_.multiply_plain(a_[i], plain, r.ct);
      evaluator_.rescale_to_next_inplace(r.ct);
      if (sum) SumSlots(r.ct, slots_);
    };
    job.expected = [&av, &pv, add, sum](int i) {
      std::vector<double> e(av[i]);
      double total = 0;
      for (std::size_t j = 0; j < e.size(); ++j) {
        e[j] = add ? e[j] + pv[i][j] : e[j] * pv[i][j];
        total += e[j];
      }
      if (sum) std::fill(e.begin(), e.end(), total);
      return e;
    };
  } else if (name == "multiply" || name == "square") {
    const bool square = name == "square";
    job.run = [this, square](int i, Result& r) {
      square ? SquareRescale(a_[i], r.ct) : MultiplyRescale(a_[i], b_[i], r.ct);
    };
    job.expected = [&av, &bv, square](int i) {
      std::vector<double> e(av[i]);
      for (std::size_t j = 0; j < e.size(); ++j) e[j] *= square ? e[j] : bv[i][j];
      return e;
    };
  } else if (name == "rotate") {
    const int steps = op.arg0;
    job.run = [this, steps](int i, Result& r) { evaluator_.rotate_vector(a_[i], steps, galois_keys_, r.ct); };
    job.expected = [&av, steps, n = slots_](int i) {
      std::vector<double> e(n);
      for (std::size_t j = 0; j < n; ++j) e[j] = av[i][(j + static_cast<std::size_t>(steps) % n) % n];  // left
      return e;
    };
  } else if (name == "sum_slots") {
    job.run = [this](int i, Result& r) {
      r.ct = a_[i];
      SumSlots(r.ct, slots_);
    };
    job.expected = [&av](int i) {
      double total = 0;
      for (double v : av[i]) total += v;
      return std::vector<double>(av[i].size(), total);
    };
  } else if (name == "polyval") {
    const std::vector<double> coeffs = PolyCoeffs(op.arg0);
    job.run = [this, coeffs](int i, Result& r) { PolyEval(a_[i], coeffs, r.ct); };
    job.expected = [&av, coeffs](int i) {
      std::vector<double> e(av[i]);
      for (double& v : e) v = Horner(coeffs, v);
      return e;
    };
  } else if (name == "matmul_batch") {
    // x[F] @ W[F, K] over the ciphertext axis (he_mat_mul_constants): per
    // output, constants times ciphertexts summed, one rescale. `count` is F.
    const std::size_t in = static_cast<std::size_t>(count), out = static_cast<std::size_t>(op.arg1);
    auto w = std::make_shared<std::vector<double>>(RandomRow(in * out));
    job.items = static_cast<int>(out);
    job.run = [this, w, in, out](int k, Result& r) {
      const double prime = RescalePrime(a_[0]);
      r.ct = seal::Ciphertext();
      for (std::size_t f = 0; f < in; ++f) MultiplyAccumulate(a_[f], (*w)[f * out + k], prime, r.ct);
      evaluator_.rescale_to_next_inplace(r.ct);
      r.ct.scale() = a_[0].scale();
    };
    job.expected = [&av, w, in, out](int k) {
      std::vector<double> e(av[0].size(), 0.0);
      for (std::size_t f = 0; f < in; ++f) {
        for (std::size_t j = 0; j < e.size(); ++j) e[j] += av[f][j] * (*w)[f * out + k];
      }
      return e;
    };
  } else if (name == "matmul_vector") {
    // x[in] @ W[in, out] inside each ciphertext (he_mat_mul_diagonal): the
    // diagonals are encoded once per call, then applied to every ciphertext.
    const std::size_t in = static_cast<std::size_t>(op.arg0), out = static_cast<std::size_t>(op.arg1);
    const auto& x = ShortInputs(in, count);
    auto w = std::make_shared<std::vector<double>>(RandomRow(in * out));
    auto diagonals = std::make_shared<std::shared_ptr<Diagonals>>();
    job.setup = [this, w, in, out, diagonals, &x] { *diagonals = EncodeDiagonals(*w, in, out, x[0].parms_id()); };
    job.run = [this, diagonals, &x](int i, Result& r) { ApplyDiagonals(**diagonals, x[i], r.ct); };
    job.expected = [&av, w, in, out](int i) {
      std::vector<double> e(out, 0.0);
      for (std::size_t j = 0; j < out; ++j) {
        for (std::size_t f = 0; f < in; ++f) e[j] += av[i][f] * (*w)[f * out + j];
      }
      return e;
    };
    job.check = out;
  } else if (name == "serialize") {
    job.run = [this](int i, Result& r) { r.bytes = SaveToString(a_[i], seal::Serialization::compr_mode_default); };
    job.expected = [&av](int i) { return av[i]; };
  } else if (name == "deserialize") {
    job.run = [this](int i, Result& r) {
      r.ct.load(context_, reinterpret_cast<const seal::seal_byte*>(serialized_[i].data()), serialized_[i].size());
    };
    job.expected = [&av](int i) { return av[i]; };
  } else if (name == "deserialize_validated") {
    // The same bytes through he-tf's bounded, validating loader: what its checks cost over SEAL's own load.
    job.run = [this](int i, Result& r) { he_tf::LoadValidated(context_, serialized_[i], r.ct); };
    job.expected = [&av](int i) { return av[i]; };
  } else {
    throw std::invalid_argument("unknown op '" + name + "'");
  }
  (void)a;
  return job;
}

std::vector<double> Workload::Decode(const Result& r) const {
  if (!r.values.empty()) return r.values;
  seal::Plaintext plain;
  if (r.pt.coeff_count() > 0) {
    plain = r.pt;
  } else if (!r.bytes.empty()) {
    seal::Ciphertext ct;
    ct.load(context_, reinterpret_cast<const seal::seal_byte*>(r.bytes.data()), r.bytes.size());
    decryptor_.decrypt(ct, plain);
  } else {
    decryptor_.decrypt(r.ct, plain);
  }
  std::vector<double> values;
  encoder_.decode(plain, values);
  return values;
}

double Workload::MaxError(const Job& job, const std::vector<Result>& results) const {
  double error = 0;
  for (int i : {0, job.items - 1}) {
    const std::vector<double> got = Decode(results[static_cast<std::size_t>(i)]);
    const std::vector<double> want = job.expected(i);
    for (std::size_t j = 0; j < job.check && j < want.size(); ++j) error = std::max(error, std::fabs(got[j] - want[j]));
  }
  return error;
}

std::string Workload::SizesJson() {
  EnsureInputs(1);
  std::vector<std::pair<std::string, seal::compr_mode_type>> modes = {{"none", seal::compr_mode_type::none}};
#ifdef SEAL_USE_ZLIB
  modes.emplace_back("zlib", seal::compr_mode_type::zlib);
#endif
#ifdef SEAL_USE_ZSTD
  modes.emplace_back("zstd", seal::compr_mode_type::zstd);
#endif
  seal::Plaintext plain;
  encoder_.encode(a_values_[0], scale_, plain);
  const auto symmetric = encryptor_->encrypt_symmetric(plain);
  const auto public_key = keygen_.create_public_key();
  const auto relin_keys = keygen_.create_relin_keys();
  const auto galois_keys = keygen_.create_galois_keys();
  std::ostringstream out;
  out << "{";
  auto entry = [&](const char* what, auto size_of, bool last = false) {
    out << "\"" << what << "\": {";
    for (std::size_t m = 0; m < modes.size(); ++m) {
      out << (m ? ", " : "") << "\"" << modes[m].first << "\": " << size_of(modes[m].second);
    }
    out << "}" << (last ? "" : ", ");
  };
  entry("ciphertext", [&](seal::compr_mode_type m) { return SavedBytes(a_[0], m); });
  entry("ciphertext_seeded", [&](seal::compr_mode_type m) { return SavedBytes(symmetric, m); });
  entry("public_key_seeded", [&](seal::compr_mode_type m) { return SavedBytes(public_key, m); });
  entry("relin_keys_seeded", [&](seal::compr_mode_type m) { return SavedBytes(relin_keys, m); });
  entry("galois_keys_seeded", [&](seal::compr_mode_type m) { return SavedBytes(galois_keys, m); });
  entry("secret_key", [&](seal::compr_mode_type m) { return SavedBytes(keygen_.secret_key(), m); }, true);
  out << "}";
  return out.str();
}

}  // namespace he_tf_bench
