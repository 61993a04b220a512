"""The ring Z_2^64 as ``tf.int64`` tensors, two-party additive sharing over it, and share truncation.

A ring element is an ``int64`` tensor read as a residue mod 2^64; its signed value is the two's-complement
reading, in [-2^63, 2^63). TensorFlow's CPU kernels for int64 add, subtract, negate, multiply, matmul and
sum are plain C++/Eigen loops, so they wrap mod 2^64 exactly; ``tests/test_ring.py`` checks this against
Python integers near +-2^63 (and ``tf.matmul`` on int64 is exact, about 3x slower than float64: 9 ms
against 3.6 ms for 256x256 on one core, so no limb splitting is needed).

Every function is a pure TensorFlow computation: it runs eagerly and inside ``tf.function``, can be
placed with ``tf.device``, and takes its randomness as an argument (the protocol layer draws it).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

BITS = 64
DTYPE = tf.int64
_MOD = 1 << BITS

Parties = tuple[tf.Tensor, tf.Tensor]


def as_ring(x, name: str = "x") -> tf.Tensor:
    """Convert `x` to a ring tensor (``tf.int64``).

    Parameters
    ----------
    x
        An int64 tensor (returned as is), a NumPy int64/uint64 array (uint64 is reinterpreted bit for
        bit) or Python integers of any size (reduced mod 2^64).
    name
        Named in the error message.

    Raises
    ------
    TypeError
        For floating-point or other non-int64 input: real numbers enter the ring through
        ``FixedPoint.encode``, so a silent cast here would hide a missing encoding.
    """
    if isinstance(x, (tf.Tensor, tf.Variable)):
        if x.dtype != DTYPE:
            raise TypeError(f"{name}: ring tensors are tf.int64, got {x.dtype.name}; "
                            "encode real values with FixedPoint.encode")
        return tf.convert_to_tensor(x)
    array = x if isinstance(x, np.ndarray) else np.array(x, dtype=object)
    if array.dtype == object and all(isinstance(v, (int, np.integer)) for v in array.reshape(-1)):
        array = _python_ints_to_int64(array)  # NumPy would turn [2**63, -1] into float64
    elif array.dtype == np.uint64:
        array = array.view(np.int64)
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    else:
        raise TypeError(f"{name}: ring values are integers, got {np.asarray(x).dtype}; "
                        "encode real values with FixedPoint.encode")
    return tf.constant(array, dtype=DTYPE)


def _python_ints_to_int64(array: np.ndarray) -> np.ndarray:
    flat = [int(v) % _MOD for v in array.reshape(-1)]
    flat = [v - _MOD if v >= 2**63 else v for v in flat]
    return np.array(flat, dtype=np.int64).reshape(array.shape)


def broadcast_shape(op: str, a: tf.TensorShape, b: tf.TensorShape) -> tf.TensorShape:
    """The static shape of an elementwise `op` on shapes `a` and `b`; ValueError if they do not broadcast."""
    try:
        return tf.broadcast_static_shape(tf.TensorShape(a), tf.TensorShape(b))
    except ValueError:
        raise ValueError(f"ring.{op}: shapes {a} and {b} do not broadcast") from None


def _broadcast(op: str, a: tf.Tensor, b: tf.Tensor) -> None:
    broadcast_shape(op, a.shape, b.shape)


def add(a, b) -> tf.Tensor:
    """a + b mod 2^64 (broadcasting)."""
    a, b = as_ring(a, "a"), as_ring(b, "b")
    _broadcast("add", a, b)
    return tf.add(a, b)


def sub(a, b) -> tf.Tensor:
    """a - b mod 2^64 (broadcasting)."""
    a, b = as_ring(a, "a"), as_ring(b, "b")
    _broadcast("sub", a, b)
    return tf.subtract(a, b)


def neg(a) -> tf.Tensor:
    """-a mod 2^64 (-(-2^63) is -2^63)."""
    return tf.negative(as_ring(a, "a"))


def mul(a, b) -> tf.Tensor:
    """a * b mod 2^64, elementwise (broadcasting)."""
    a, b = as_ring(a, "a"), as_ring(b, "b")
    _broadcast("mul", a, b)
    return tf.multiply(a, b)


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False) -> tf.Tensor:
    """a @ b mod 2^64 over the last two axes (leading axes broadcast as in ``tf.matmul``).

    Raises
    ------
    ValueError
        If either operand has rank < 2 or the contracted dimensions differ.
    """
    a, b = as_ring(a, "a"), as_ring(b, "b")
    matmul_shape(a.shape, b.shape, transpose_a, transpose_b)
    return tf.linalg.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def matmul_shape(a: tf.TensorShape, b: tf.TensorShape, transpose_a: bool = False,
                 transpose_b: bool = False) -> tf.TensorShape:
    """The static shape of ``matmul(a, b)``; ValueError for rank < 2 or different contracted dimensions."""
    a, b = tf.TensorShape(a), tf.TensorShape(b)
    if a.rank is not None and a.rank < 2 or b.rank is not None and b.rank < 2:
        raise ValueError(f"ring.matmul: operands need rank >= 2, got shapes {a} and {b}")
    if a.rank is None or b.rank is None:
        return tf.TensorShape(None)
    (m, inner_a), (inner_b, n) = a[-2:][::-1 if transpose_a else 1], b[-2:][::-1 if transpose_b else 1]
    if inner_a is not None and inner_b is not None and inner_a != inner_b:
        raise ValueError(f"ring.matmul: contracted dimensions differ ({inner_a} vs {inner_b}) "
                         f"for shapes {a} @ {b}")
    return broadcast_shape("matmul", a[:-2], b[:-2]).concatenate([m, n])


def reduce_sum(x, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> tf.Tensor:
    """Sum mod 2^64 over `axis` (all axes when None)."""
    return tf.reduce_sum(as_ring(x, "x"), axis=axis, keepdims=keepdims)


def shift_right(x, bits: int) -> tf.Tensor:
    """Arithmetic shift right of the signed value: floor(x / 2^bits), for public ring values."""
    _check_bits(bits)
    return tf.bitwise.right_shift(as_ring(x, "x"), tf.constant(bits, DTYPE))


def _check_bits(bits: int) -> None:
    if not isinstance(bits, (int, np.integer)) or not 0 <= bits < BITS:
        raise ValueError(f"shift by {bits!r} bits: need an integer in [0, {BITS - 1}]")


def check_party(party: int) -> None:
    """Raise ValueError unless `party` is 0 or 1."""
    if party not in (0, 1):
        raise ValueError(f"party must be 0 or 1, got {party!r}")


# ---- two-party additive sharing ------------------------------------------------------------------------

def share(x, r) -> Parties:
    """Split `x` into two additive shares: (x0, x1) = (r, x - r), so x0 + x1 = x mod 2^64.

    Parameters
    ----------
    x
        The secret ring tensor.
    r
        A uniformly random ring tensor of exactly `x`'s shape (a broadcast mask would reuse randomness
        across elements and leak their differences). Either share alone is then uniform, independent of x.

    Raises
    ------
    ValueError
        If `r`'s shape is not `x`'s.
    """
    x, r = as_ring(x, "x"), as_ring(r, "r")
    if not x.shape.is_compatible_with(r.shape) or x.shape.rank != r.shape.rank:
        raise ValueError(f"ring.share: the mask needs the secret's shape {x.shape}, got {r.shape}")
    return r, tf.subtract(x, r)


def reconstruct(x0, x1) -> tf.Tensor:
    """x0 + x1 mod 2^64: the secret from both shares."""
    x0, x1 = as_ring(x0, "x0"), as_ring(x1, "x1")
    if not x0.shape.is_compatible_with(x1.shape):
        raise ValueError(f"ring.reconstruct: shares of different shapes {x0.shape} and {x1.shape}")
    return tf.add(x0, x1)


def truncate_share(share_i, party: int, bits: int) -> tf.Tensor:
    """One party's local step of SecureML's two-party truncation (Mohassel and Zhang 2017, Theorem 1).

    Party 0 computes x0 >> bits (arithmetic), party 1 computes -((-x1) >> bits), with no
    communication. If the shared value satisfies |x| < 2^l_x, the truncated shares reconstruct to
    floor(x / 2^bits) or that plus one (at most 1 unit of the last place after the shift) except with
    probability at most 2^(l_x + 1 - 64); for a given x the failure rate is about |x| / 2^64 (the first
    share falls within |x| of the wrap-around point). A failure gives a value off by about
    +-2^(64 - bits), i.e. garbage, so fixed-point magnitudes must stay well below 2^63: at
    |x| < 2^40 failures occur with probability below 2^-23 per element.

    Parameters
    ----------
    share_i
        Party `party`'s share of x.
    party
        0 or 1: which rule to apply. Both parties must use the same `bits`.
    bits
        How many fraction bits to drop, in [0, 63].
    """
    check_party(party)
    _check_bits(bits)
    s = as_ring(share_i, "share")
    shift = tf.constant(bits, DTYPE)
    if party == 0:
        return tf.bitwise.right_shift(s, shift)
    return tf.negative(tf.bitwise.right_shift(tf.negative(s), shift))
