#include "fixed_point.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "ckks.h"
#include "exact_encoding.h"
#include "seal/randomgen.h"
#include "seal/util/ntt.h"

namespace he_tf {
namespace {

// A plaintext at `ct`'s level whose coefficients are uniform in [-2^bits, 2^bits].
seal::Plaintext FloodingNoise(const PublicContext& ctx, const seal::Ciphertext& ct, int bits) {
  if (bits < 1 || bits > 62) throw std::invalid_argument("flood_bits must be in [1, 62], got " + std::to_string(bits));
  auto data = ctx.seal_context().get_context_data(ct.parms_id());
  const auto& moduli = data->parms().coeff_modulus();
  const std::size_t degree = ct.poly_modulus_degree(), k = moduli.size();
  std::vector<std::int64_t> raw(degree);
  SecureRandom(raw.data(), degree);
  const std::uint64_t span = (std::uint64_t{1} << (bits + 1)) + 1;  // 2^(bits+1) + 1 values
  seal::Plaintext noise;
  noise.parms_id() = seal::parms_id_zero;
  noise.resize(degree * k);
  for (std::size_t i = 0; i < degree; ++i) {
    // The modulo bias is below 2^(bits + 2 - 64): negligible for bits <= 62.
    const std::int64_t e = static_cast<std::int64_t>(static_cast<std::uint64_t>(raw[i]) % span) -
                           (std::int64_t{1} << bits);
    for (std::size_t j = 0; j < k; ++j) {
      const std::uint64_t q = moduli[j].value();
      noise.data()[j * degree + i] = e >= 0 ? static_cast<std::uint64_t>(e) % q
                                            : (q - static_cast<std::uint64_t>(-e) % q) % q;
    }
  }
  for (std::size_t j = 0; j < k; ++j) {
    seal::util::ntt_negacyclic_harvey(seal::util::CoeffIter(noise.data() + j * degree), data->small_ntt_tables()[j]);
  }
  noise.parms_id() = ct.parms_id();
  noise.scale() = ct.scale();
  return noise;
}

}  // namespace

void AddFixedPoint(const PublicContext& ctx, seal::Ciphertext& ct, const std::int64_t* values, std::size_t n,
                   int fraction_bits, int flood_bits) {
  ctx.Level(ct);  // throws for ciphertexts of other parameters
  seal::Plaintext plain = EncodeFixedPoint(ctx.seal_context(), values, n, fraction_bits, ct.parms_id(), ct.scale());
  ctx.evaluator().add_plain_inplace(ct, plain);
  if (flood_bits > 0) ctx.evaluator().add_plain_inplace(ct, FloodingNoise(ctx, ct, flood_bits));
}

seal::Ciphertext EncryptFixedPoint(const PublicContext& ctx, const std::int64_t* values, std::size_t n,
                                   int fraction_bits) {
  seal::Plaintext plain = EncodeFixedPoint(ctx.seal_context(), values, n, fraction_bits,
                                           ctx.seal_context().first_parms_id(), ctx.scale());
  seal::Ciphertext ct;
  ctx.encryptor().encrypt(plain, ct);
  return ct;
}

void DecryptFixedPoint(const PublicContext& ctx, const SecretKey& sk, const seal::Ciphertext& ct, int fraction_bits,
                       std::int64_t* out, std::size_t n) {
  CheckSameKeySet(ctx, sk);
  seal::Plaintext plain;
  sk.Decrypt(ct, plain);
  DecodeFixedPoint(ctx.seal_context(), plain, fraction_bits, out, n);
}

void SecureRandom(std::int64_t* out, std::size_t n) {
  auto prng = seal::UniformRandomGeneratorFactory::DefaultFactory()->create();
  prng->generate(n * sizeof(std::int64_t), reinterpret_cast<seal::seal_byte*>(out));
}

}  // namespace he_tf
