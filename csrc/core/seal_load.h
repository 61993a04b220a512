// SEAL objects from bytes that another party sent. Nothing reaches SEAL's own
// loaders until the bytes have been walked and checked against the context:
// the SEAL header, every declared count against the exact size the
// parameters give (before anything is allocated), compressed bytes
// decompressed by us with a cap on what they may produce, the level (parms_id
// in the context's chain), NTT form, ciphertext size (2 or 3 polynomials) and
// scale. SEAL then loads the checked, uncompressed bytes and validates the
// coefficients (each below its prime). Every failure throws
// std::invalid_argument naming the object and what is wrong.
#pragma once

#include <string>
#include <string_view>

#include "seal/ciphertext.h"
#include "seal/context.h"
#include "seal/encryptionparams.h"
#include "seal/galoiskeys.h"
#include "seal/plaintext.h"
#include "seal/publickey.h"
#include "seal/relinkeys.h"
#include "seal/secretkey.h"

namespace he_tf {

// A ciphertext at a data level (2 or 3 polynomials, a scale its level can hold).
void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::Ciphertext& out);
// An NTT-form plaintext at a data level.
void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::Plaintext& out);
// Key material, at the key level.
void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::PublicKey& out);
void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::RelinKeys& out);
void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::GaloisKeys& out);
void LoadValidated(const seal::SEALContext& context, std::string_view bytes, seal::SecretKey& out);
// CKKS encryption parameters (no context needed): N a power of two up to 32768, 2 to 64 primes of
// at most 60 bits, no plaintext modulus. Whether he-tf accepts them is CkksParams::Validate's call.
void LoadValidated(std::string_view bytes, seal::EncryptionParameters& out);

// A ciphertext's bytes (validated as LoadValidated does), uncompressed, with every SEAL header saying
// SEAL 4.`minor`: for another SEAL 4 release that reads only its own version (TenSEAL 0.3.18's).
std::string CiphertextForSealVersion(const seal::SEALContext& context, std::string_view bytes, int minor);

// Throws unless `scale` is one a ciphertext or plaintext at `parms` can carry:
// finite, above 1 and below the modulus left at that level. The one scale rule: the wire format's
// header check calls it too (_core.check_scale).
void CheckScale(const seal::SEALContext& context, const seal::parms_id_type& parms, double scale,
                const char* what);

}  // namespace he_tf
