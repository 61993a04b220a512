"""Beaver-triple multiplication of two-party additive shares over Z_2^64.

A dealer, who never sees the inputs, hands each party a share of a random triple (a, b, c) with
c = a * b (elementwise), c = a @ b (matmul) or c = a^2 (square). To multiply shared x and y:

1. each party i masks its shares with its triple share: e_i = x_i - a_i, f_i = y_i - b_i
   (``mask``), and sends (e_i, f_i) to the other; since a and b are uniform and used once, e and f
   reveal nothing about x and y;
2. both open e = x - a and f = y - b (``ring.reconstruct``) and combine locally (``combine``):
   z_i = c_i + e * b_i + a_i * f (+ e * f for party 0), so z_0 + z_1 = x * y. For matmul the order
   matters: z_i = c_i + e @ b_i + a_i @ f (+ e @ f for party 0).

In fixed point, z has 2f fraction bits; truncate it with ``ring.truncate_share``. A triple must never be
used twice (two openings with the same a would reveal x - x'). The functions here are the local steps
only; moving e_i, f_i between the parties' devices is the protocol layer's job.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import tensorflow as tf

from . import ring

Kind = Literal["multiply", "matmul"]


class Triple(NamedTuple):
    """One party's share of a Beaver triple: c = a * b or c = a @ b (``kind``)."""

    a: tf.Tensor
    b: tf.Tensor
    c: tf.Tensor


class SquarePair(NamedTuple):
    """One party's share of a square pair: c = a^2, elementwise."""

    a: tf.Tensor
    c: tf.Tensor


def _share_all(values, masks, names) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
    if len(masks) != len(values):
        raise ValueError(f"need {len(values)} masks ({', '.join(names)}), got {len(masks)}")
    shares = [ring.share(v, r) for v, r in zip(values, masks)]
    return [s[0] for s in shares], [s[1] for s in shares]


def multiply_triple(a, b, masks) -> tuple[Triple, Triple]:
    """Dealer: shares of the elementwise triple (a, b, a * b).

    Parameters
    ----------
    a, b
        Uniformly random ring tensors with the shapes of the two factors x and y (they may broadcast
        against each other like x and y do; c gets the broadcast shape).
    masks
        Three uniformly random ring tensors (r_a, r_b, r_c) with the shapes of a, b and c: party 0's
        shares.

    Returns
    -------
    (Triple, Triple)
        Party 0's and party 1's shares.
    """
    c = ring.mul(a, b)
    first, second = _share_all([a, b, c], masks, ("r_a", "r_b", "r_c"))
    return Triple(*first), Triple(*second)


def matmul_triple(a, b, masks) -> tuple[Triple, Triple]:
    """Dealer: shares of the matmul triple (a, b, a @ b); `a` is [..., m, k], `b` [..., k, n].

    `masks` are three uniformly random ring tensors (r_a, r_b, r_c) shaped like a, b and a @ b. Returns
    party 0's and party 1's shares.
    """
    c = ring.matmul(a, b)
    first, second = _share_all([a, b, c], masks, ("r_a", "r_b", "r_c"))
    return Triple(*first), Triple(*second)


def square_pair(a, masks) -> tuple[SquarePair, SquarePair]:
    """Dealer: shares of (a, a^2) for squaring; `masks` are (r_a, r_c), both shaped like `a`."""
    c = ring.mul(a, a)
    first, second = _share_all([a, c], masks, ("r_a", "r_c"))
    return SquarePair(*first), SquarePair(*second)


def mask(x_i, y_i, triple_i: Triple) -> tuple[tf.Tensor, tf.Tensor]:
    """Party i's masked shares (e_i, f_i) = (x_i - a_i, y_i - b_i), sent to the other party.

    Raises
    ------
    ValueError
        If a share's shape differs from its triple part's: a mask must cover each element exactly once.
    """
    _same_shape("x", x_i, "a", triple_i.a)
    _same_shape("y", y_i, "b", triple_i.b)
    return ring.sub(x_i, triple_i.a), ring.sub(y_i, triple_i.b)


def combine(party: int, e, f, triple_i: Triple, kind: Kind = "multiply") -> tf.Tensor:
    """Party i's share of x * y (or x @ y) from the opened e = x - a, f = y - b.

    z_i = c_i + e * b_i + a_i * f, plus e * f for party 0 only (with @ in that order for matmul).
    """
    ring.check_party(party)
    if kind == "multiply":
        op = ring.mul
    elif kind == "matmul":
        op = ring.matmul
    else:
        raise ValueError(f"kind must be 'multiply' or 'matmul', got {kind!r}")
    z = ring.add(ring.add(triple_i.c, op(e, triple_i.b)), op(triple_i.a, f))
    return ring.add(z, op(e, f)) if party == 0 else z


def mask_square(x_i, pair_i: SquarePair) -> tf.Tensor:
    """Party i's masked share e_i = x_i - a_i for squaring, sent to the other party."""
    _same_shape("x", x_i, "a", pair_i.a)
    return ring.sub(x_i, pair_i.a)


def combine_square(party: int, e, pair_i: SquarePair) -> tf.Tensor:
    """Party i's share of x^2 from the opened e = x - a: c_i + 2 e a_i, plus e^2 for party 0."""
    ring.check_party(party)
    z = ring.add(pair_i.c, ring.mul(ring.add(e, e), pair_i.a))
    return ring.add(z, ring.mul(e, e)) if party == 0 else z


def _same_shape(name: str, x, part: str, t) -> None:
    x, t = ring.as_ring(x, name), ring.as_ring(t, part)
    if not x.shape.is_compatible_with(t.shape) or x.shape.rank != t.shape.rank:
        raise ValueError(f"beaver: share {name} has shape {x.shape} but the triple's {part} has {t.shape}")
