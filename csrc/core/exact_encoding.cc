#include "exact_encoding.h"

#include <cfloat>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "seal/memorymanager.h"
#include "seal/util/ntt.h"
#include "seal/util/rns.h"
#include "seal/util/uintarith.h"

#if LDBL_MANT_DIG >= 113
using Quad = long double;  // IEEE quad already (e.g. aarch64 Linux)
static Quad QuadCos(Quad x) { return cosl(x); }
static Quad QuadSin(Quad x) { return sinl(x); }
static Quad QuadRound(Quad x) { return roundl(x); }
static const Quad kPi = 3.141592653589793238462643383279502884L;
#else
#include <quadmath.h>
using Quad = __float128;
static Quad QuadCos(Quad x) { return cosq(x); }
static Quad QuadSin(Quad x) { return sinq(x); }
static Quad QuadRound(Quad x) { return roundq(x); }
static const Quad kPi = M_PIq;
#endif

namespace he_tf {
namespace {

// Coefficients past this magnitude are no longer integers in quad precision.
const Quad kExactLimit = static_cast<Quad>(std::ldexp(1.0, 112));
const Quad kTwo64 = static_cast<Quad>(std::ldexp(1.0, 64));
// Below this many slots a direct sum is cheaper than an FFT over all N points.
constexpr std::size_t kDirectSlots = 32;

struct Complex {
  Quad re, im;
};
inline Complex operator+(Complex a, Complex b) { return {a.re + b.re, a.im + b.im}; }
inline Complex operator-(Complex a, Complex b) { return {a.re - b.re, a.im - b.im}; }
inline Complex operator*(Complex a, Complex b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }

// zeta^k for k in [0, 2N), zeta = exp(2 pi i / 2N), and slot i's exponent 3^i mod 2N; built once per N.
struct Embedding {
  std::size_t n;
  std::vector<Complex> zeta;
  std::vector<std::size_t> slot_exponent;

  static const Embedding& For(std::size_t n) {
    static std::mutex mu;
    static std::map<std::size_t, std::unique_ptr<Embedding>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto& entry = cache[n];
    if (!entry) entry = std::make_unique<Embedding>(n);
    return *entry;
  }

  explicit Embedding(std::size_t degree) : n(degree), zeta(2 * degree), slot_exponent(degree / 2) {
    const std::size_t m = 2 * n;
    for (std::size_t k = 0; k < m; ++k) {
      const Quad angle = 2 * kPi * static_cast<Quad>(k) / static_cast<Quad>(m);
      zeta[k] = {QuadCos(angle), QuadSin(angle)};
    }
    std::size_t pos = 1;
    for (auto& e : slot_exponent) {
      e = pos;
      pos = (pos * 3) & (m - 1);
    }
  }

  // In-place DFT of length n with root zeta^2 (inverse: zeta^-2), unnormalized.
  void Fft(std::vector<Complex>& a, bool inverse) const {
    for (std::size_t i = 1, j = 0; i < n; ++i) {
      std::size_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) std::swap(a[i], a[j]);
    }
    const std::size_t m = 2 * n;
    for (std::size_t len = 2; len <= n; len <<= 1) {
      const std::size_t step = m / len;
      for (std::size_t start = 0; start < n; start += len) {
        for (std::size_t k = 0; k < len / 2; ++k) {
          const std::size_t e = (k * step) % m;
          const Complex w = zeta[inverse ? (m - e) % m : e];
          const Complex t = w * a[start + k + len / 2];
          a[start + k + len / 2] = a[start + k] - t;
          a[start + k] = a[start + k] + t;
        }
      }
    }
  }
};

Quad FixedToQuad(std::int64_t v, int fraction_bits) {
  return static_cast<Quad>(v) / static_cast<Quad>(std::ldexp(1.0, fraction_bits));
}

void CheckFractionBits(int fraction_bits) {
  if (fraction_bits < 0 || fraction_bits > 62) {
    throw std::invalid_argument("fraction_bits must be in [0, 62], got " + std::to_string(fraction_bits));
  }
}

// Real coefficients m_i of the real polynomial whose first n slots hold values / 2^fraction_bits.
std::vector<Quad> Coefficients(const Embedding& emb, const std::int64_t* values, std::size_t n, int fraction_bits) {
  const std::size_t degree = emb.n, m = 2 * degree;
  std::vector<Quad> coeffs(degree, 0);
  if (n <= kDirectSlots) {
    // m_i = (2/N) sum_j z_j Re(zeta^(-g_j i)) = (2/N) sum_j z_j Re(zeta^(g_j i)).
    for (std::size_t j = 0; j < n; ++j) {
      const Quad z = FixedToQuad(values[j], fraction_bits);
      const std::size_t g = emb.slot_exponent[j];
      std::size_t e = 0;
      for (std::size_t i = 0; i < degree; ++i, e = (e + g) & (m - 1)) coeffs[i] += z * emb.zeta[e].re;
    }
    for (auto& c : coeffs) c = c * 2 / static_cast<Quad>(degree);
    return coeffs;
  }
  // Values at the exponents g and -g (conjugates of real values are themselves),
  // then m_i = (1/N) Re(zeta^-i * IDFT(Y)_i).
  std::vector<Complex> y(degree, Complex{0, 0});
  for (std::size_t j = 0; j < n; ++j) {
    const Quad z = FixedToQuad(values[j], fraction_bits);
    const std::size_t g = emb.slot_exponent[j];
    y[(g - 1) / 2].re = z;
    y[(m - g - 1) / 2].re = z;
  }
  emb.Fft(y, /*inverse=*/true);
  for (std::size_t i = 0; i < degree; ++i) {
    const Complex twisted = y[i] * emb.zeta[(m - i) % m];
    coeffs[i] = twisted.re / static_cast<Quad>(degree);
  }
  return coeffs;
}

// Real parts of the first n slots of the polynomial with coefficients c (unscaled).
std::vector<Quad> Slots(const Embedding& emb, const std::vector<Quad>& c, std::size_t n) {
  const std::size_t degree = emb.n, m = 2 * degree;
  std::vector<Quad> slots(n, 0);
  if (n <= kDirectSlots) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t g = emb.slot_exponent[j];
      std::size_t e = 0;
      Quad sum = 0;
      for (std::size_t i = 0; i < degree; ++i, e = (e + g) & (m - 1)) sum += c[i] * emb.zeta[e].re;
      slots[j] = sum;
    }
    return slots;
  }
  // slot_j = sum_i (c_i zeta^i) zeta^(2 k i) with g_j = 2k + 1: a DFT of the twisted coefficients.
  std::vector<Complex> a(degree);
  for (std::size_t i = 0; i < degree; ++i) a[i] = Complex{c[i], 0} * emb.zeta[i];
  emb.Fft(a, /*inverse=*/false);
  for (std::size_t j = 0; j < n; ++j) slots[j] = a[(emb.slot_exponent[j] - 1) / 2].re;
  return slots;
}

std::uint64_t Residue(__int128 x, std::uint64_t q) {
  __int128 r = x % static_cast<__int128>(q);
  if (r < 0) r += q;
  return static_cast<std::uint64_t>(r);
}

}  // namespace

seal::Plaintext EncodeFixedPoint(const seal::SEALContext& context, const std::int64_t* values, std::size_t n,
                                 int fraction_bits, seal::parms_id_type parms_id, double scale) {
  CheckFractionBits(fraction_bits);
  auto data = context.get_context_data(parms_id);
  if (!data) throw std::invalid_argument("the ciphertext's parameters are not valid for this context");
  const auto& parms = data->parms();
  const auto& moduli = parms.coeff_modulus();
  const std::size_t degree = parms.poly_modulus_degree(), k = moduli.size();
  if (n > degree / 2) {
    throw std::invalid_argument("cannot encode " + std::to_string(n) + " values into " +
                                std::to_string(degree / 2) + " slots");
  }
  const Embedding& emb = Embedding::For(degree);
  std::vector<Quad> coeffs = Coefficients(emb, values, n, fraction_bits);

  // Half the level's modulus bounds a coefficient (its sign takes the rest).
  Quad half_modulus = 0.5;
  for (const auto& q : moduli) half_modulus *= static_cast<Quad>(q.value());
  const Quad limit = half_modulus < kExactLimit ? half_modulus : kExactLimit;

  seal::Plaintext plain;
  plain.parms_id() = seal::parms_id_zero;
  plain.resize(degree * k);
  std::uint64_t* out = plain.data();
  for (std::size_t i = 0; i < degree; ++i) {
    const Quad x = QuadRound(coeffs[i] * static_cast<Quad>(scale));
    if (!(x < limit && -x < limit)) {
      throw std::invalid_argument(
          "a value times the scale does not fit the ciphertext's modulus at its level (" +
          std::to_string(data->total_coeff_modulus_bit_count()) +
          " bits); use smaller values or masks, or convert at a higher level");
    }
    const __int128 xi = static_cast<__int128>(x);
    for (std::size_t j = 0; j < k; ++j) out[j * degree + i] = Residue(xi, moduli[j].value());
  }
  for (std::size_t j = 0; j < k; ++j) {
    seal::util::ntt_negacyclic_harvey(seal::util::CoeffIter(out + j * degree), data->small_ntt_tables()[j]);
  }
  plain.parms_id() = parms_id;
  plain.scale() = scale;
  return plain;
}

void DecodeFixedPoint(const seal::SEALContext& context, const seal::Plaintext& plain, int fraction_bits,
                      std::int64_t* out, std::size_t n) {
  CheckFractionBits(fraction_bits);
  auto data = context.get_context_data(plain.parms_id());
  if (!data || !plain.is_ntt_form()) throw std::invalid_argument("the plaintext is not valid for this context");
  const auto& parms = data->parms();
  const std::size_t degree = parms.poly_modulus_degree(), k = parms.coeff_modulus().size();
  if (n > degree / 2) {
    throw std::invalid_argument("cannot decode " + std::to_string(n) + " values from " +
                                std::to_string(degree / 2) + " slots");
  }
  std::vector<std::uint64_t> words(plain.data(), plain.data() + degree * k);
  for (std::size_t j = 0; j < k; ++j) {
    seal::util::inverse_ntt_negacyclic_harvey(seal::util::CoeffIter(words.data() + j * degree),
                                              data->small_ntt_tables()[j]);
  }
  data->rns_tool()->base_q()->compose_array(words.data(), degree, seal::MemoryManager::GetPool());

  // Centered lift of each coefficient (k words, little endian) into quad precision.
  const std::uint64_t* modulus = data->total_coeff_modulus();
  const std::uint64_t* upper_half = data->upper_half_threshold();
  std::vector<std::uint64_t> magnitude(k);
  std::vector<Quad> coeffs(degree);
  for (std::size_t i = 0; i < degree; ++i) {
    const std::uint64_t* c = words.data() + i * k;
    const bool negative = seal::util::is_greater_than_or_equal_uint(c, upper_half, k);
    if (negative) {
      seal::util::sub_uint(modulus, c, k, magnitude.data());
    } else {
      std::copy(c, c + k, magnitude.begin());
    }
    Quad value = 0;
    for (std::size_t w = k; w-- > 0;) value = value * kTwo64 + static_cast<Quad>(magnitude[w]);
    coeffs[i] = negative ? -value : value;
  }

  const std::vector<Quad> slots = Slots(Embedding::For(degree), coeffs, n);
  const Quad to_fixed = static_cast<Quad>(std::ldexp(1.0, fraction_bits)) / static_cast<Quad>(plain.scale());
  for (std::size_t j = 0; j < n; ++j) {
    const Quad x = QuadRound(slots[j] * to_fixed);
    if (!(x < kExactLimit && -x < kExactLimit)) {
      throw std::invalid_argument("a decrypted value is too large to decode exactly (beyond 2^112 ulps)");
    }
    // Two's complement wraps the exact integer into Z_2^64.
    out[j] = static_cast<std::int64_t>(static_cast<std::uint64_t>(static_cast<unsigned __int128>(
        static_cast<__int128>(x))));
  }
}

}  // namespace he_tf
