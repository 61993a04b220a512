// CKKS operations on single ciphertexts. Framework-independent: the TF
// kernels and the Python module call these per element. All throw
// std::invalid_argument with a message fit for the user on bad input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "public_context.h"
#include "secret_key.h"
#include "seal/ciphertext.h"

namespace he_tf {

// Largest |value| that survives encryption and every rescale with these
// parameters: the scaled value must stay below half the first prime.
double MaxEncodableMagnitude(const CkksParams& params);

// Encrypts values[0..n) (n <= slot count) into one ciphertext at the top level
// and the context's scale; the remaining slots hold zeros. With `imag`, slot k
// holds the complex value values[k] + i imag[k] (CKKS slots are complex: two
// real values per slot for computations that act on both parts alike).
seal::Ciphertext Encrypt(const PublicContext& ctx, const double* values, std::size_t n,
                         const double* imag = nullptr);

// Like Encrypt, with the secret key; returns the seeded serialized form
// (about half the bytes), uncompressed, which LoadCiphertext expands.
std::string EncryptSymmetric(const PublicContext& ctx, const SecretKey& sk, const double* values, std::size_t n,
                             const double* imag = nullptr);

// Decrypts and writes the real parts of the first n slots to out[0..n), and
// their imaginary parts to imag[0..n) if given.
void Decrypt(const PublicContext& ctx, const SecretKey& sk, const seal::Ciphertext& ct, double* out, std::size_t n,
             double* imag = nullptr);

// Checks that a secret key belongs to the key set of `ctx`.
void CheckSameKeySet(const PublicContext& ctx, const SecretKey& sk);

// Throws unless `ct` is at `level` and `scale` (-1 and 0: any), what its
// HETensor declares and every later op relies on; `what` names the check.
void CheckLevelAndScale(const PublicContext& ctx, const seal::Ciphertext& ct, int level, double scale,
                        const char* what);

// Ciphertext bytes. Loading validates them against the context's parameters; it reads SEAL's
// form (compressed or not) and the residue encoding (residues.h).
std::string SaveCiphertext(const seal::Ciphertext& ct, seal::compr_mode_type mode);
seal::Ciphertext LoadCiphertext(const PublicContext& ctx, std::string_view bytes);

}  // namespace he_tf
