"""XOR sharing of words, AND by binary Beaver triples, the sign bit by a parallel-prefix carry tree.

A word w of up to 64 bits (a ``tf.int64`` read as bits) is binary-shared as (w0, w1) with w0 ^ w1 = w.
XOR, shifts and bit permutations are local; an AND of two shared words costs one binary triple
(a, b, c = a & b, each XOR-shared) and one exchange, as for arithmetic Beaver triples with XOR for
addition and AND for multiplication (Goldreich, Micali and Wigderson; the two-party form CrypTen uses):

1. party i sends e_i = x_i ^ a_i and f_i = y_i ^ b_i (``mask_and``); both open e = x ^ a, f = y ^ b;
2. z_i = c_i ^ (e & b_i) ^ (a_i & f), and party 0 also XORs e & f (``combine_and``): z0 ^ z1 = x & y.

Words of ``bits`` < 64 travel, and are dealt, in the smallest unsigned type that holds them
(``wire_dtype``: 32, 16 or 8 bits), so narrow ANDs cost what they carry.

The sign of an arithmetically shared x = x0 + x1 mod 2^64 is bit 63 of the sum: bit 63 of x0 ^ x1
XOR the carry into bit 63. Each party's arithmetic share is a binary sharing of itself with the other
party holding zero, so the carry is computed on binary shares by a carry-lookahead tree (a
parallel-prefix adder of which only the top carry is kept): generate g = x0 & x1 (one AND on 64 bits),
propagate p = x0 ^ x1 (local), both shifted up one place so that positions 1..63 hold bits 0..62 and
position 0 holds no carry. Then six rounds (log2 64) each combine adjacent positions (2j + 1 over 2j),
halving the width: G = G_hi ^ (P_hi & G_lo), P = P_hi & P_lo (two ANDs on 32, 16, 8, 4, 2 bits; the
last round, on 1 bit, needs only G). The last G is the carry into bit 63 (``sign_share``). No
approximation: the result is the exact sign of the ring value read in two's complement.

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

# The carry tree's widths after the first generate: 6 rounds (log2 64), each halving the width.
WIDTHS = (32, 16, 8, 4, 2, 1)
# Masks of compress_even: after shifting by s, blocks of 2s bits keep their low s bits.
_EVEN = 0x5555555555555555
_COMPRESS = ((1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F), (4, 0x00FF00FF00FF00FF),
             (8, 0x0000FFFF0000FFFF), (16, 0x00000000FFFFFFFF))


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
    """a ^ b on int64 words: adding XOR shares (local)."""
    return tf.bitwise.bitwise_xor(ring.as_ring(a, "a"), ring.as_ring(b, "b"))


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def wire_dtype(bits: int) -> tf.DType:
    """The type that carries words of `bits` bits: int64 for 64, else the smallest unsigned that fits."""
    if not isinstance(bits, int) or not 1 <= bits <= 64:
        raise ValueError(f"words have 1 to 64 bits, got {bits!r}")
    return ring.DTYPE if bits > 32 else tf.uint32 if bits > 16 else tf.uint16 if bits > 8 else tf.uint8


def narrow(x, bits: int) -> tf.Tensor:
    """The low `bits` bits of int64 words, in :func:`wire_dtype` (int64 words unchanged for 64)."""
    x = ring.as_ring(x, "x")
    if bits == 64:
        return x
    return tf.cast(tf.bitwise.bitwise_and(x, tf.constant((1 << bits) - 1, ring.DTYPE)), wire_dtype(bits))


def shift_left(x, bits: int) -> tf.Tensor:
    """x << bits on 64-bit words (zeros shifted in; bits shifted past bit 63 are dropped)."""
    return tf.bitwise.left_shift(ring.as_ring(x, "x"), tf.constant(bits, ring.DTYPE))


def compress_even(x, width: int) -> tf.Tensor:
    """The bits at even positions 0, 2, ..., width - 2 of words `x` (int64), packed into width / 2 bits;
    ``compress_even(x >> 1, width)`` gives the odd positions. A bit permutation: local on XOR shares."""
    x = tf.bitwise.bitwise_and(ring.as_ring(x, "x"), tf.constant(_signed(_EVEN), ring.DTYPE))
    for shift, mask in _COMPRESS:
        if 2 * shift >= width:
            break
        x = tf.bitwise.bitwise_or(x, tf.bitwise.right_shift(x, tf.constant(shift, ring.DTYPE)))
        x = tf.bitwise.bitwise_and(x, tf.constant(_signed(mask), ring.DTYPE))
    return x


def odd_and_even(x, width: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(bits at odd positions, bits at even positions) of `width`-bit words, each packed to width / 2."""
    x = ring.as_ring(x, "x")
    odd = tf.bitwise.right_shift(x, tf.constant(1, ring.DTYPE))
    return compress_even(odd, width), compress_even(x, width)


def and_triple(a, b, masks, bits: int = 64) -> tuple[AndTriple, AndTriple]:
    """Dealer: XOR shares of (a, b, a & b) on `bits`-bit words, from uniformly random int64 `a`, `b`.

    `masks` are three uniformly random int64 tensors (r_a, r_b, r_c) of the same shape; their low `bits`
    bits are party 0's shares. Every part is in :func:`wire_dtype` of `bits`. Returns party 0's and
    party 1's shares.
    """
    if len(masks) != 3:
        raise ValueError(f"need 3 masks (r_a, r_b, r_c), got {len(masks)}")
    a, b = narrow(a, bits), narrow(b, bits)
    masks = [narrow(r, bits) for r in masks]
    values = (a, b, tf.bitwise.bitwise_and(a, b))
    return AndTriple(*masks), AndTriple(*(tf.bitwise.bitwise_xor(v, r) for v, r in zip(values, masks)))


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
    return (Selection(first.binary, first.arithmetic, a0, c0),
            Selection(second.binary, second.arithmetic, a1, c1))


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
    """Party i's masked shares (x_i ^ a_i, y_i ^ b_i) in the triple's wire type, sent to the other party.

    `x_i`, `y_i` are int64 words of no more bits than the triple's (the caller's width)."""
    dtype = triple_i.a.dtype
    return (tf.bitwise.bitwise_xor(tf.cast(ring.as_ring(x_i, "x"), dtype), triple_i.a),
            tf.bitwise.bitwise_xor(tf.cast(ring.as_ring(y_i, "y"), dtype), triple_i.b))


def combine_and(party: int, e, f, triple_i: AndTriple) -> tf.Tensor:
    """Party i's XOR share of x & y (int64 words) from the opened e = x ^ a and f = y ^ b."""
    ring.check_party(party)
    z = tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(triple_i.c, tf.bitwise.bitwise_and(e, triple_i.b)),
                               tf.bitwise.bitwise_and(triple_i.a, f))
    if party == 0:
        z = tf.bitwise.bitwise_xor(z, tf.bitwise.bitwise_and(e, f))
    return tf.cast(z, ring.DTYPE)


def sign_share(z_i, carry_i) -> tf.Tensor:
    """Party i's XOR share (0 or 1, ``tf.uint8``) of the sum's bit 63: bit 63 of its arithmetic share
    `z_i` (its share of x0 ^ x1) XOR its share of the carry into bit 63 (the tree's last G, 1 bit)."""
    top = tf.bitwise.right_shift(ring.as_ring(z_i, "z"), tf.constant(63, ring.DTYPE))
    bit63 = tf.bitwise.bitwise_and(top, 1)
    carry = tf.bitwise.bitwise_and(ring.as_ring(carry_i, "carry"), 1)
    return tf.cast(tf.bitwise.bitwise_xor(bit63, carry), tf.uint8)


def mask_bit(s_i, bit_i: SharedBit) -> tf.Tensor:
    """Party i's masked bit share s_i ^ r_i (``tf.uint8``), sent to the other party to open c = s ^ r."""
    return tf.bitwise.bitwise_xor(s_i, bit_i.binary)


def bit_to_arithmetic(party: int, c, bit_i: SharedBit) -> tf.Tensor:
    """Party i's additive share of s = c ^ r = c + r - 2 c r, from the opened c and its share of r."""
    ring.check_party(party)
    c = tf.cast(c, ring.DTYPE)
    share = ring.mul(ring.sub(tf.ones_like(c), ring.add(c, c)), bit_i.arithmetic)  # (1 - 2c) r_i
    return ring.add(share, c) if party == 0 else share
