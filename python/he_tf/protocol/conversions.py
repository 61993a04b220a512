"""Conversions between CKKS ciphertexts and two-party secret shares (``he_tf.convert``).

HE -> shares, for an HETensor of ``CKKS(key_owner=K, evaluator=E)`` and a
``SecretSharing`` between K and E:

1. E draws a fixed-point mask r, uniform in ``[-2^h * B, 2^h * B)`` (h = ``hiding_bits``,
   B = ``value_bound``), for every slot of every ciphertext, and computes ``ct + r`` plus a
   flooding polynomial (``ops.add_fixed_point``);
2. E sends the masked ciphertext to K, who decrypts it exactly to ring elements: K's share
   is ``round((v + r) * 2^f) mod 2^64``, E's share is ``-r``.

K sees ``v + r``: statistically within ``2^-h`` of uniform when ``|v| <= B``. The flooding hides
the ciphertext noise, which depends on E's computation (see docs/protocols.md).

Shares -> HE: E sends ``s_E + r`` to K (a masked share), K computes ``y = s_K + s_E + r = v + r``
in the ring, encrypts it under its public key and sends the ciphertext to E, who subtracts r
homomorphically (``ops.add_fixed_point`` of ``-r``).

Every mask comes from ``ops.random_ring`` (SEAL's Blake2 PRNG, seeded by the OS).
"""

from __future__ import annotations

import math

import tensorflow as tf

from he_tf import ops, packing
from he_tf.params import Params
from he_tf.protocol import ring, transcript
from he_tf.protocol.ckks import CKKS
from he_tf.protocol.players import get_config
from he_tf.protocol.base import register_conversion
from he_tf.protocol.secret_sharing import SecretSharing, SharedTensor
from he_tf.tensor import HETensor


def mask_bits(ckks: CKKS, fraction_bits: int) -> int:
    """Ring bits of a conversion mask: ``hiding_bits + ceil(log2(value_bound)) + fraction_bits``.

    Raises
    ------
    ValueError
        Above 62: ``v + r`` must stay a signed 64-bit ring value, for any ``|v| <= value_bound``.
    """
    bits = ckks.hiding_bits + math.ceil(math.log2(ckks.value_bound)) + fraction_bits
    if bits > ring.BITS - 2:
        raise ValueError(
            f"a conversion mask needs hiding_bits ({ckks.hiding_bits}) + log2(value_bound) "
            f"({math.ceil(math.log2(ckks.value_bound))}) + fraction_bits ({fraction_bits}) = {bits} ring bits, "
            f"more than the {ring.BITS - 2} that Z_2^64 allows; lower hiding_bits or value_bound in CKKS(...), "
            "or fraction_bits in SecretSharing(...)"
        )
    return bits


def check_headroom(ckks: CKKS, params: Params, level: int, scale: float, what: str) -> None:
    """Raises ValueError unless a masked value ``(|v| + 2^h * B) * scale`` fits the modulus at ``level``.

    Needed: ``log2(scale) + hiding_bits + log2(value_bound) + 2 < bits of the first level + 1 primes``.
    """
    available = sum(params.coeff_mod_bit_sizes[: level + 1])
    bound_bits = math.log2(ckks.value_bound)
    needed = math.log2(scale) + ckks.hiding_bits + bound_bits + 2
    if needed < available:
        return
    try:
        bigger = f"he_tf.Params.for_depth({params.depth + 1}) = {Params.for_depth(params.depth + 1, params.scale_bits)}"
    except ValueError as e:
        bigger = f"a larger depth ({e})"
    raise ValueError(
        f"{what}: a masked value needs log2(scale) {math.log2(scale):.1f} + hiding_bits {ckks.hiding_bits} + "
        f"log2(value_bound) {bound_bits:.1f} + 2 = {needed:.1f} bits of modulus, but the ciphertext at level "
        f"{level} has {available} ({params.coeff_mod_bit_sizes[: level + 1]}). Fixes: one more level, e.g. "
        f"{bigger}; convert one multiplication earlier; fewer hiding_bits; or a smaller value_bound"
    )


def _check_parties(ckks: CKKS, ss: SecretSharing) -> int:
    """The index of the key owner among the SecretSharing parties (the evaluator is the other)."""
    if set(ss.parties) != {ckks.key_owner, ckks.evaluator}:
        raise ValueError(
            f"converting between {ckks!r} and SecretSharing(players={ss.parties}) needs the secret sharing to "
            f"run between the key owner and the evaluator: SecretSharing(players=({ckks.key_owner!r}, "
            f"{ckks.evaluator!r}), dealer=...)"
        )
    return ss.parties.index(ckks.key_owner)


def _mask(shape, bits: int) -> tf.Tensor:
    """Uniform ring values in [-2^bits, 2^bits): an arithmetic shift of uniform Z_2^64 elements."""
    return ring.shift_right(ops.random_ring(shape=shape), ring.BITS - 1 - bits)


def _device(player: str) -> str:
    return get_config().device(player)


def _logical(values: tf.Tensor, x: HETensor) -> tf.Tensor:
    """Slot values ``[ciphertext shape..., n]`` to x's logical shape."""
    if x.packed_axis is not None:
        values = packing.unpack(values, x.packed_axis, x.packed_length)
    return tf.reshape(values, x.shape)


@register_conversion(CKKS, SecretSharing)
def ckks_to_shares(x: HETensor, source: CKKS, target: SecretSharing) -> SharedTensor:
    """HE -> shares: the evaluator masks the ciphertext, the key owner decrypts the masked value.

    Raises
    ------
    ValueError
        If the parties differ from the key owner and evaluator, the ciphertext's level lacks the
        headroom for the mask (:func:`check_headroom`), or the default flooding would be none
        (``CKKS.default_flood_bits``).
    """
    if not isinstance(x, HETensor) or not source.owns(x):
        raise TypeError(f"convert from {source!r} takes one of its HETensors, got {type(x).__name__}")
    owner_index = _check_parties(source, target)
    f = target.fraction_bits
    bits = mask_bits(source, f)
    check_headroom(source, x.he_params, x.level, x.scale, "converting to secret shares")
    flood = source.default_flood_bits(f, x.scale)
    evaluator, owner = source.evaluator, source.key_owner
    with tf.device(_device(evaluator)):
        # Every slot is masked, not only the n in use: the key owner decrypts whole ciphertexts.
        r = _mask(x.ciphertexts.shape.as_list() + [x.he_params.slot_count], bits)
        masked = x.with_ciphertexts(ops.add_fixed_point(x.context, x.ciphertexts, r, fraction_bits=f,
                                                        flood_bits=flood))
    received = source.send(masked, to=owner, sender=evaluator, kind="masked", label="HE->shares masked value")
    n = x.values_per_ciphertext
    with tf.device(_device(owner)):
        owner_share = _logical(source.decrypt_fixed_point(received, n, f), x)
    with tf.device(_device(evaluator)):
        evaluator_share = _logical(ring.neg(r[..., :n]), x)
    owner_share = transcript.place(owner_share, on=owner, kind="share", label="HE->shares share")
    evaluator_share = transcript.place(evaluator_share, on=evaluator, kind="share", label="HE->shares share")
    shares = (owner_share, evaluator_share) if owner_index == 0 else (evaluator_share, owner_share)
    return SharedTensor(shares[0], shares[1], f, target.key)


@register_conversion(SecretSharing, CKKS)
def shares_to_ckks(x: SharedTensor, source: SecretSharing, target: CKKS) -> HETensor:
    """Shares -> HE: the key owner encrypts its share plus the evaluator's masked share; the evaluator unmasks.

    The result is a fresh HETensor at the top level, packed with ``target.layout``.
    """
    if not isinstance(x, SharedTensor) or not source.owns(x):
        raise TypeError(f"convert from {source!r} takes one of its private tensors, got {type(x).__name__}")
    owner_index = _check_parties(target, source)
    f = x.fraction_bits
    bits = mask_bits(target, f)
    params = target.params
    scale = float(2**params.scale_bits)
    check_headroom(target, params, params.depth, scale, "converting secret shares to CKKS")
    if not x.shape.is_fully_defined():
        raise ValueError(f"converting to CKKS needs a fully known shape, got {x.shape}")
    rank = x.shape.rank
    packed_axis = None if rank == 0 else (0 if target.layout == "batch" else rank - 1)

    def pack(share: tf.Tensor) -> tf.Tensor:
        return tf.reshape(share, [1]) if packed_axis is None else packing.pack(share, packed_axis, params.slot_count)

    evaluator, owner = target.evaluator, target.key_owner
    owner_share, evaluator_share = x.shares[owner_index], x.shares[1 - owner_index]
    with tf.device(_device(evaluator)):
        packed = pack(evaluator_share)
        r = _mask(packed.shape, bits)
        masked_share = ring.add(packed, r)
    received = transcript.send(masked_share, to=owner, sender=evaluator, kind="masked",
                               label="shares->HE masked share")
    owner_context = target._context_for(owner)
    with tf.device(_device(owner)):
        y = ring.add(pack(owner_share), received)  # v + r: the mask hides v
        encrypted = HETensor(
            ciphertexts=ops.encrypt_fixed_point(owner_context, y, fraction_bits=f), context=owner_context,
            shape=x.shape, dtype=tf.float64, layout=target.layout, packed_axis=packed_axis, level=params.depth,
            scale=scale, params=params.as_tuple(),
        )
    encrypted = target.send(encrypted, to=evaluator, sender=owner, kind="ciphertext", label="shares->HE ciphertext")
    with tf.device(_device(evaluator)):
        return encrypted.with_ciphertexts(
            ops.add_fixed_point(encrypted.context, encrypted.ciphertexts, ring.neg(r), fraction_bits=f))
