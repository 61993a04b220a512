"""Structure-aware mutations: edit one field of a SEAL object inside whatever container holds it.

libFuzzer's byte mutations rarely produce a consistent SEAL object with one odd field (a compressed
body, a header size, a checksum must all agree), and atheris sees no coverage inside the C++ loaders
to guide it there. These mutations do it directly, from the layouts in :mod:`tests.hostile.craft`.
"""

from __future__ import annotations

import math
import functools
import random

from tests.hostile import craft

U64_VALUES = [0, 1, 2, 3, 4, 15, 16, 17, 1 << 20, 1 << 27, 1 << 32, 1 << 63, (1 << 64) - 1]
F64_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    0.0,
    -0.0,
    2.0**-1000,
    1.0,
    2.0**20,
    2.0**30,
    2.0**31,
    2.0**60,
    1e308,
]
CT_FIELDS = [
    "size",
    "poly_modulus_degree",
    "coeff_modulus_size",
    "scale",
    "ntt_form",
    "correction_factor",
    "parms_id",
    "words",
    "truncate",
    "empty",
    "bomb",
]


@functools.lru_cache(maxsize=None)
def _bomb(size: int, declare_size: bool) -> bytes:
    return craft.bomb(size, craft.ZSTD, declare_size=declare_size)


def mutate_seal(seal_bytes: bytes, rng: random.Random) -> bytes:
    """One field of a ciphertext (or public key) changed, re-saved uncompressed or compressed."""
    ct = craft.Ciphertext.parse(seal_bytes)
    field = rng.choice(CT_FIELDS)
    if field == "bomb":  # zstd only: its RLE frames cost nothing to build (the matrix has zlib bombs)
        return _bomb(rng.choice([1 << 20, 1 << 26, 1 << 29]), rng.random() < 0.5)
    if field == "empty":
        return craft.empty_ciphertext(seal_bytes, rng.choice([0, 1, 1 << 27]))
    if field == "scale":
        ct.scale = rng.choice(F64_VALUES) if rng.random() < 0.8 else ct.scale * rng.choice([0.5, 2.0])
    elif field == "ntt_form":
        ct.ntt_form = rng.choice([0, 1, 2, 255])
    elif field == "parms_id":
        ct.parms_id = bytes(32) if rng.random() < 0.5 else rng.randbytes(32)
    elif field == "words":
        ct.data = craft.dynarray(ct.data[craft.DYN_WORDS :], declared=rng.choice(U64_VALUES))
    elif field == "truncate":
        ct.data = ct.data[: rng.randrange(len(ct.data) + 1)]
    else:
        setattr(ct, field, rng.choice(U64_VALUES))
    return ct.save(rng.choice([craft.NONE, craft.NONE, craft.ZLIB, craft.ZSTD]))


def mutate_serialized(data: bytes, rng: random.Random) -> bytes:
    """An ``he_tf.serialize`` string (without its CRC-32, which the harness appends) mutated."""
    payload = data[craft.KEY_ID.size :]
    if payload.startswith(craft.RESIDUE_MAGIC):
        return data[: craft.KEY_ID.size] + mutate_residues(payload, rng)
    return data[: craft.KEY_ID.size] + mutate_seal(payload, rng)


# uint64 fields of a residue encoding's SEAL prefix: header size, polynomials, N, primes, word count.
RESIDUE_FIELDS = (8, 49, 57, 65, 105)


def mutate_residues(payload: bytes, rng: random.Random) -> bytes:
    """A residue-encoded ciphertext (csrc/core/residues.h) with a prefix field, a residue, a byte or the
    length changed."""
    choice = rng.randrange(5)
    if choice == 0:
        return craft.residue_prefix_field(payload, rng.choice(RESIDUE_FIELDS), rng.choice(U64_VALUES))
    if choice == 1:  # the first residue set to a value near a prime's width (at or above the prime, often)
        bits = rng.choice([27, 30, 38, 39, 60])
        return craft.residue_first_word(payload, rng.randrange(1 << bits), bits)
    if choice == 2:
        at = rng.randrange(len(payload))
        return payload[:at] + bytes([payload[at] ^ (1 << rng.randrange(8))]) + payload[at + 1 :]
    if choice == 3:
        return payload[: rng.randrange(len(payload) + 1)]
    return payload + rng.randbytes(rng.choice([1, 8, 1000]))


def mutate_container(data: bytes, rng: random.Random) -> bytes:
    """A key container with one blob mutated: a bomb, or one field of the public key, of a key-switching
    key set or of the secret key (the container's checksum, if recognised, made right)."""
    found = craft.blobs(data)
    index = rng.randrange(len(found))
    b = found[index]
    blob = data[b.start : b.end]
    if rng.random() < 0.2:
        new = _bomb(rng.choice([1 << 20, 1 << 29]), rng.random() < 0.5)
    elif data.startswith(b"HETFSEC"):
        new = mutate_plaintext(blob, rng)
    elif index == 0:
        new = mutate_seal(blob, rng)
    else:
        new = mutate_kswitch(blob, rng)
    return craft.replace_blob(data, index, new)


def mutate_kswitch(seal_bytes: bytes, rng: random.Random) -> bytes:
    """Relinearization or Galois keys (KSwitchKeys: parms_id, count, then per key a count and that many
    PublicKeys) with a count or the first PublicKey changed."""
    m = craft.members(seal_bytes)
    parms_id, rest = m[:32], m[32:]
    choice = rng.choice(["outer", "inner", "key", "parms_id"])
    if choice == "outer":
        rest = craft.U64.pack(rng.choice(U64_VALUES)) + rest[8:]
    elif choice == "inner":
        rest = rest[:8] + craft.U64.pack(rng.choice(U64_VALUES)) + rest[16:]
    elif choice == "parms_id":
        parms_id = rng.randbytes(32)
    else:
        key = craft.SealHeader.read(rest, 16)
        first = rest[16 : 16 + key.size]
        rest = rest[:16] + mutate_seal(first, rng) + rest[16 + key.size :]
    return craft.seal_object(parms_id + rest, rng.choice([craft.NONE, craft.ZSTD]))


def mutate_plaintext(seal_bytes: bytes, rng: random.Random) -> bytes:
    """A plaintext's (secret key's) coefficient count, scale or word count changed."""
    pt = craft.Plaintext.parse(seal_bytes)
    field = rng.choice(["coeff_count", "scale", "empty", "parms_id"])
    if field == "empty":
        return craft.empty_plaintext(seal_bytes, rng.choice([0, 1, 1 << 27]))
    if field == "coeff_count":
        pt.coeff_count = rng.choice(U64_VALUES)
    elif field == "scale":
        pt.scale = rng.choice(F64_VALUES)
    else:
        pt.parms_id = bytes(32)
    return pt.save(rng.choice([craft.NONE, craft.ZSTD]))


def mutate_wire(data: bytes, rng: random.Random) -> bytes:
    """A wire message with one header field or one ciphertext string mutated (its CRC-32 made right)."""
    magic, header, body = craft.wire_split(data)
    if rng.random() < 0.5:
        strings = craft.wire_strings(data)
        i = rng.randrange(len(strings))
        strings[i] = craft.edit_serialized(strings[i], lambda b: mutate_seal(b, rng))
        return craft.wire_with_strings(data, strings)
    t = header["tensor"]
    choice = rng.choice(["shape", "grid", "level", "scale", "params", "lengths", "nested", "layout", "meta"])
    if choice == "shape":
        t["shape"][rng.randrange(len(t["shape"]))] = rng.choice([0, -1, 1 << 27, 1 << 62, None, "x"])
    elif choice == "grid":
        t["ciphertext_shape"] = rng.choice([[], [0], [1 << 27], [1, 1 << 40], [-1]])
    elif choice == "level":
        t["level"] = rng.choice([-1, 0, 2, 1 << 40, "1", None])
    elif choice == "scale":
        t["scale"] = rng.choice([0.0, -1.0, 1e308, 2.0**-1000, "NaN", None])
    elif choice == "params":
        t["params"] = rng.choice([[0, [], 0], [1 << 40, [60], 40], t["params"][:2], None])
    elif choice == "lengths":
        header["lengths"] = rng.choice([[], [-1], [1 << 40], header["lengths"] * 2])
    elif choice == "nested":
        return craft.wire_nested_header(data, rng.choice([100, 10_000, 200_000]))
    elif choice == "meta":  # the block layout's counts
        header["meta"] = rng.choice([{"samples": 0}, {"samples": 1 << 40}, {"samples": True}, {"samples": "3"},
                                     {"outputs": -1}, {"samples": 3, "outputs": 1 << 31}, {"samples": None}])
    else:
        t["layout"] = rng.choice(["vector", "", None, 3])
    return craft.wire_join(magic, header, body)
