// The residue encoding of a ciphertext: SEAL's uncompressed bytes with every
// residue (a 64-bit word below its prime) stored in its prime's bit width, a
// bit stream with no gaps. As small as zstd makes them (uniform residues do
// not compress further) at a fraction of the time, and exact.
//
// Layout: the magic "HETFRES1"; SEAL's header and ciphertext members up to
// and including the word count of its data array, as SEAL saved them
// uncompressed (113 bytes); the count words, word i in the width of prime
// (i / N) mod L of its level, least significant bit first, zero bits to the
// byte; what SEAL saved after the words (a seeded ciphertext's seed).
//
// Decoding is for bytes from another party: every size is computed from the
// context's parameters and the declared level before anything is allocated,
// every residue must lie below its prime and the padding bits be zero; the
// result is SEAL's uncompressed form, which LoadValidated then checks in full.
#pragma once

#include <string>
#include <string_view>

#include "seal/context.h"

namespace he_tf {

inline constexpr std::string_view kResidueMagic = "HETFRES1";

bool IsResidueEncoded(std::string_view bytes);

// `seal_bytes`: a ciphertext as SEAL saves it with compr_mode_type::none (seeded or not), at a level of `context`.
std::string EncodeResidues(const seal::SEALContext& context, std::string_view seal_bytes);

// The SEAL bytes back (uncompressed), or std::invalid_argument saying what is wrong.
std::string DecodeResidues(const seal::SEALContext& context, std::string_view bytes);

}  // namespace he_tf
