"""XOR sharing of 64-bit words, AND by binary Beaver triples, the sign bit by a parallel-prefix adder.

A word w in Z_2^64 (a ``tf.int64`` read as 64 bits) is binary-shared as (w0, w1) with w0 ^ w1 = w. XOR
and shifts by a public amount are local; an AND of two shared words costs one binary triple
(a, b, c = a & b, each XOR-shared) and one exchange, as for arithmetic Beaver triples with XOR for
addition and AND for multiplication (Goldreich, Micali and Wigderson; the two-party form CrypTen uses):

1. party i sends e_i = x_i ^ a_i and f_i = y_i ^ b_i (``mask_and``); both open e = x ^ a, f = y ^ b;
2. z_i = c_i ^ (e & b_i) ^ (a_i & f), and party 0 also XORs e & f (``combine_and``): z0 ^ z1 = x & y.

The sign of an arithmetically shared x = x0 + x1 mod 2^64 is bit 63 of the sum. Each party's arithmetic
share is already a binary sharing of itself with the other party holding zero, so the sum is computed
on binary shares by a Kogge-Stone adder (``SCHEDULE``): generate G = x0 & x1 (one AND), propagate
P = x0 ^ x1 (local), then for k = 1, 2, 4, ..., 32: G ^= P & (G << k), P &= P << k (two ANDs in one
round; the last round needs only the first). Bit i of G is then the carry out of bit i, and
sign = bit 63 of P ^ bit 62 of G (``sign_share``). No approximation: the result is the exact sign of the
ring value read in two's complement.

Back to the ring with a random bit r shared both ways (``SharedBit``): open c = s ^ r, then
s = c + r - 2 c r (``bit_to_arithmetic``); or, to multiply a shared value v by s in the same round, with
a ``Selection`` (r both ways, a uniform a shaped like v, a * r): open c and e = v - a together, then
s v = c v + (1 - 2c)(e r + a r) (``combine_select``).

The functions here are one party's local steps; moving e_i and f_i is the protocol layer's job.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from . import ring

# The Kogge-Stone adder's shift distances after the first generate: log2(64) = 6 rounds.
SCHEDULE = (1, 2, 4, 8, 16, 32)


class AndTriple(NamedTuple):
    """One party's XOR shares of a binary triple: c = a & b, word by word."""

    a: tf.Tensor
    b: tf.Tensor
    c: tf.Tensor


class SharedBit(NamedTuple):
    """One party's shares of a random bit r in both forms: ``binary`` (0 or 1, XOR-shared, ``tf.uint8``) and
    ``arithmetic`` (ring elements, additively shared)."""

    binary: tf.Tensor
    arithmetic: tf.Tensor


def xor(a, b) -> tf.Tensor:
    return tf.bitwise.bitwise_xor(ring.as_ring(a, "a"), ring.as_ring(b, "b"))


def shift_left(x, bits: int) -> tf.Tensor:
    """x << bits on 64-bit words (zeros shifted in; bits shifted past bit 63 are dropped)."""
    return tf.bitwise.left_shift(ring.as_ring(x, "x"), tf.constant(bits, ring.DTYPE))


def and_triple(a, b, masks) -> tuple[AndTriple, AndTriple]:
    """Dealer: XOR shares of (a, b, a & b) for uniformly random words `a`, `b` of one shape.

    `masks` are three uniformly random words (r_a, r_b, r_c) of that shape: party 0's shares.
    Returns party 0's and party 1's shares.
    """
    a, b = ring.as_ring(a, "a"), ring.as_ring(b, "b")
    values = (a, b, tf.bitwise.bitwise_and(a, b))
    if len(masks) != 3:
        raise ValueError(f"need 3 masks (r_a, r_b, r_c), got {len(masks)}")
    return AndTriple(*masks), AndTriple(*(xor(v, r) for v, r in zip(values, masks)))


def shared_bit(r, masks) -> tuple[SharedBit, SharedBit]:
    """Dealer: shares of the bit `r` (0 or 1, ``tf.int64``) in both forms.

    `masks` are (a uniformly random word, a uniformly random ring element), each of `r`'s shape: bit 0 of
    the first is party 0's binary share, the second party 0's arithmetic share.
    """
    r = ring.as_ring(r, "r")
    word, element = masks
    binary0 = tf.cast(tf.bitwise.bitwise_and(ring.as_ring(word, "word"), 1), tf.uint8)
    arithmetic0, arithmetic1 = ring.share(r, element)
    return SharedBit(binary0, arithmetic0), SharedBit(tf.bitwise.bitwise_xor(binary0, tf.cast(r, tf.uint8)),
                                                        arithmetic1)


class Selection(NamedTuple):
    """One party's shares of a random bit r in both forms (as :class:`SharedBit`) and of (a, a * r) for a
    uniform ring tensor a shaped like a value: multiplying the value by a shared bit in the round that
    opens the bit."""

    binary: tf.Tensor
    arithmetic: tf.Tensor
    a: tf.Tensor
    c: tf.Tensor


def selection(r, a, masks) -> tuple[Selection, Selection]:
    """Dealer: shares of the bit `r` in both forms, of `a` and of a * r (r broadcast to `a`'s shape).

    `masks`: a uniform word and a uniform ring element shaped like `r`, two uniform ring tensors shaped
    like `a`: party 0's shares (bit 0 of the word for the binary one).
    """
    word, element, mask_a, mask_c = masks
    first, second = shared_bit(r, (word, element))
    c = ring.mul(a, r)
    a0, a1 = ring.share(a, mask_a)
    c0, c1 = ring.share(c, mask_c)
    return Selection(first.binary, first.arithmetic, a0, c0), Selection(second.binary, second.arithmetic, a1, c1)


def mask_select(s_i, v_i, selection_i: Selection) -> tuple[tf.Tensor, tf.Tensor]:
    """Party i's masked bit share s_i ^ r_i and masked value share v_i - a_i, sent in one message."""
    return tf.bitwise.bitwise_xor(s_i, selection_i.binary), ring.sub(v_i, selection_i.a)


def open_select(mine, received) -> tuple[tf.Tensor, tf.Tensor]:
    """The opened c = s ^ r and e = v - a from a party's own and the received :func:`mask_select`."""
    return tf.bitwise.bitwise_xor(mine[0], received[0]), ring.reconstruct(mine[1], received[1])


def combine_select(party: int, c, e, v_i, selection_i: Selection) -> tf.Tensor:
    """Party i's additive share of s * v = c v + (1 - 2c) r v, where r v = e r + a r (e = v - a opened)."""
    ring.check_party(party)
    c = tf.cast(c, ring.DTYPE)
    rv = ring.add(ring.mul(e, selection_i.arithmetic), selection_i.c)
    return ring.add(ring.mul(c, v_i), ring.mul(ring.sub(tf.ones_like(c), ring.add(c, c)), rv))


def mask_and(x_i, y_i, triple_i: AndTriple) -> tuple[tf.Tensor, tf.Tensor]:
    """Party i's masked shares (x_i ^ a_i, y_i ^ b_i), sent to the other party."""
    return xor(x_i, triple_i.a), xor(y_i, triple_i.b)


def combine_and(party: int, e, f, triple_i: AndTriple) -> tf.Tensor:
    """Party i's XOR share of x & y from the opened e = x ^ a and f = y ^ b."""
    ring.check_party(party)
    z = xor(xor(triple_i.c, tf.bitwise.bitwise_and(e, triple_i.b)), tf.bitwise.bitwise_and(triple_i.a, f))
    return xor(z, tf.bitwise.bitwise_and(e, f)) if party == 0 else z


def sign_share(p_i, g_i) -> tf.Tensor:
    """Party i's XOR share (0 or 1, ``tf.uint8``) of the sum's bit 63: bit 63 of P ^ bit 62 of G."""
    bit63 = tf.bitwise.bitwise_and(tf.bitwise.right_shift(ring.as_ring(p_i, "p"), tf.constant(63, ring.DTYPE)), 1)
    bit62 = tf.bitwise.bitwise_and(tf.bitwise.right_shift(ring.as_ring(g_i, "g"), tf.constant(62, ring.DTYPE)), 1)
    return tf.cast(tf.bitwise.bitwise_xor(bit63, bit62), tf.uint8)


def mask_bit(s_i, bit_i: SharedBit) -> tf.Tensor:
    """Party i's masked bit share s_i ^ r_i (``tf.uint8``), sent to the other party to open c = s ^ r."""
    return tf.bitwise.bitwise_xor(s_i, bit_i.binary)


def bit_to_arithmetic(party: int, c, bit_i: SharedBit) -> tf.Tensor:
    """Party i's additive share of s = c ^ r = c + r - 2 c r, from the opened c and its share of r."""
    ring.check_party(party)
    c = tf.cast(c, ring.DTYPE)
    share = ring.mul(ring.sub(tf.ones_like(c), ring.add(c, c)), bit_i.arithmetic)  # (1 - 2c) r_i
    return ring.add(share, c) if party == 0 else share
