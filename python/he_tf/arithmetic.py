"""Arithmetic on HETensors: with each other, with plaintext tensors and scalars.

Every function plans the result's level and scale when tracing (see
levels.py) and calls the raw ops. Plaintext operands broadcast with NumPy
rules but may not enlarge the encrypted operand.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from he_tf import levels, ops, packing
from he_tf.tensor import HETensor


def _check_same_params(a: HETensor, b: HETensor, op: str) -> None:
    if a.params != b.params:
        raise ValueError(f"{op}: operands were encrypted with different parameters ({a.he_params} vs {b.he_params})")


def as_float64(value) -> tf.Tensor:
    """A plaintext as float64; Python floats convert exactly (not via float32)."""
    return tf.cast(tf.convert_to_tensor(value, dtype_hint=tf.float64), tf.float64)


def _plain(value, x: HETensor, op: str) -> tf.Tensor:
    """A plaintext operand as float64, checked to broadcast to x's shape."""
    try:
        p = tf.convert_to_tensor(value, dtype_hint=tf.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}: cannot use {type(value).__name__} as a plaintext operand ({e})") from None
    if not (p.dtype.is_floating or p.dtype.is_integer):
        raise TypeError(f"{op}: plaintext operands must be numeric, got {p.dtype.name}")
    try:
        shape = tf.broadcast_static_shape(x.shape, p.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {x.shape} (encrypted) and {p.shape} (plaintext) do not broadcast") from None
    if shape != x.shape:
        raise ValueError(
            f"{op}: the plaintext operand of shape {p.shape} would broadcast the encrypted operand of shape "
            f"{x.shape} to {shape}; tile or broadcast the data before encrypting it"
        )
    return tf.reshape(tf.cast(p, tf.float64), [1] * (x.rank - p.shape.rank) + p.shape.as_list())


def _is_constant_per_ciphertext(p: tf.Tensor, x: HETensor) -> bool:
    return x.packed_axis is None or p.shape[x.packed_axis] == 1


def _plain_rows(p: tf.Tensor, x: HETensor) -> tf.Tensor:
    """p (rank-aligned with x) as slot rows [ciphertext shape (broadcastable)..., n] for the plain ops."""
    n = x.values_per_ciphertext
    if _is_constant_per_ciphertext(p, x):
        return tf.broadcast_to(p[..., None], p.shape.as_list() + [n])
    full = tf.broadcast_to(p, x.shape)
    return packing.pack(full, x.packed_axis, x.he_params.slot_count)


def _broadcast_spec(a: HETensor, b: HETensor, op: str) -> tuple[tf.TensorShape, int | None]:
    """Result shape and packed axis of an elementwise op on two HETensors."""
    _check_same_params(a, b, op)
    if (a.packed_axis is None) != (b.packed_axis is None):
        raise ValueError(
            f"{op}: one operand has values packed into slots and the other one value per ciphertext (after a "
            "sum over its packed axis); reduce both the same way"
        )
    if a.packed_axis is not None and (
        a.rank - a.packed_axis != b.rank - b.packed_axis or a.packed_length != b.packed_length
    ):
        raise ValueError(
            f"{op}: the operands' packed axes differ (shape {a.shape} packed on axis {a.packed_axis}, shape "
            f"{b.shape} on axis {b.packed_axis}); encrypt both with the same layout"
        )
    try:
        shape = tf.broadcast_static_shape(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast") from None
    packed = None if a.packed_axis is None else shape.rank - (a.rank - a.packed_axis)
    return shape, packed


def _result_dtype(a: HETensor, b: HETensor, op: str) -> tf.DType:
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: dtypes differ: {a.dtype.name} vs {b.dtype.name}")
    return a.dtype


def _elementwise(a: HETensor, b: HETensor, raw, op: str) -> HETensor:
    """Two HETensors combined slot by slot by ``raw(context, a, b)``, brought to one level and scale first."""
    shape, packed = _broadcast_spec(a, b, op)
    dtype = _result_dtype(a, b, op)
    a, b = levels.align_all([a, b], op)
    return a.with_ciphertexts(raw(a.context, a.ciphertexts, b.ciphertexts), shape=shape, dtype=dtype,
                              packed_axis=packed)


def _with_plain(x: HETensor, p, raw, op: str) -> HETensor:
    """``raw(context, x, plaintext rows)`` with plaintext operand ``p``."""
    return x.with_ciphertexts(raw(x.context, x.ciphertexts, _plain_rows(_plain(p, x, op), x)))


def add(a, b) -> HETensor:
    """``a + b``; at least one operand is an HETensor."""
    if isinstance(a, HETensor) and isinstance(b, HETensor):
        return _elementwise(a, b, ops.add, "add")
    x, p = (a, b) if isinstance(a, HETensor) else (b, a)
    return _with_plain(x, p, ops.add_plain, "add")


def subtract(a, b) -> HETensor:
    """``a - b``; at least one operand is an HETensor."""
    if isinstance(a, HETensor) and isinstance(b, HETensor):
        return _elementwise(a, b, ops.sub, "subtract")
    if isinstance(a, HETensor):
        return _with_plain(a, b, ops.sub_plain, "subtract")
    return add(negative(b), a)


def negative(x: HETensor) -> HETensor:
    return x.with_ciphertexts(ops.negate(x.context, x.ciphertexts))


def multiply(a, b) -> HETensor:
    """``a * b``, rescaled; one level. At least one operand is an HETensor."""
    if isinstance(a, HETensor) and isinstance(b, HETensor):
        shape, packed = _broadcast_spec(a, b, "multiply")
        dtype = _result_dtype(a, b, "multiply")
        low = a if a.level <= b.level else b
        levels.require_levels(low, 1, "multiply")
        level, scale = levels.after_rescale(low, a.scale * b.scale)
        return a.with_ciphertexts(ops.multiply(a.context, a.ciphertexts, b.ciphertexts), shape=shape, dtype=dtype,
                                  packed_axis=packed, level=level, scale=scale)
    x, p = (a, b) if isinstance(a, HETensor) else (b, a)
    levels.require_levels(x, 1, "multiply")
    p = _plain(p, x, "multiply")
    if _is_constant_per_ciphertext(p, x):
        cts = ops.multiply_constant(x.context, x.ciphertexts, p)
    else:
        cts = ops.multiply_plain(x.context, x.ciphertexts, _plain_rows(p, x))
    return x.with_ciphertexts(cts, level=levels.after_product(x.level))


def divide(x: HETensor, divisor) -> HETensor:
    """``x / divisor`` for a plaintext divisor: a product with its reciprocal (one level)."""
    if isinstance(divisor, HETensor):
        raise TypeError("divide by an encrypted tensor is not supported: CKKS has no division; the divisor must "
                        "be plaintext")
    return multiply(x, 1.0 / as_float64(divisor))


def square(x: HETensor) -> HETensor:
    levels.require_levels(x, 1, "square")
    level, scale = levels.after_rescale(x, x.scale * x.scale)
    return x.with_ciphertexts(ops.square(x.context, x.ciphertexts), level=level, scale=scale)


def poly_depth(degree: int) -> int:
    """Levels a polynomial of this degree takes: ceil(log2(degree)) + 1."""
    return 1 + max(0, int(np.ceil(np.log2(degree)))) if degree >= 1 else 1


def polyval(coeffs, x: HETensor) -> HETensor:
    """``tf.math.polyval`` semantics: ``coeffs[0] * x**(n-1) + ... + coeffs[-1]``, plaintext coefficients."""
    if isinstance(coeffs, (list, tuple)):
        coeffs = tf.stack([as_float64(c) for c in coeffs])
    coeffs = tf.reshape(as_float64(coeffs), [-1])
    if coeffs.shape[0] is None or coeffs.shape[0] == 0:
        raise ValueError("polyval needs a known, non-zero number of coefficients")
    depth = poly_depth(coeffs.shape[0] - 1)
    levels.require_levels(x, depth, f"polyval of degree {coeffs.shape[0] - 1}")
    cts = ops.polyval(x.context, x.ciphertexts, tf.reverse(coeffs, [0]), num_values=x.values_per_ciphertext)
    return x.with_ciphertexts(cts, level=x.level - depth)


def sum_slots_depth(values_per_ciphertext: int) -> int:
    """Levels a sum over the packed axis takes: the mask that clears the partial sums (none for one value)."""
    return 1 if values_per_ciphertext > 1 else 0


def reduce_sum(x: HETensor, axis=None, keepdims: bool = False) -> HETensor:
    """Sum over logical axes; over the packed axis by rotate-and-add.

    A sum over the packed axis leaves the total in slot 0 and zeros in every
    other slot: rotate-and-add leaves partial sums there, which a mask
    multiply clears, so it takes one level (none when each ciphertext holds
    one value).
    """
    axes = range(x.rank) if axis is None else np.atleast_1d(np.asarray(axis, dtype=np.int64)).tolist()
    axes = sorted({a % x.rank if x.rank else 0 for a in axes}, reverse=True)
    if x.rank == 0:
        return x
    cts, packed, shape, level = x.ciphertexts, x.packed_axis, x.shape.as_list(), x.level
    for a in axes:
        if a == packed:
            depth = sum_slots_depth(x.values_per_ciphertext)
            levels.require_levels(x, depth, "reduce_sum over the packed axis")
            cts = ops.sum_slots(x.context, cts, num_values=x.values_per_ciphertext)
            packed, level = None, level - depth
        elif packed is not None and a < packed:
            packed -= 1
        cts = ops.reduce_sum(x.context, cts, axis=a)
        del shape[a]
    if keepdims:
        shape = [1 if i in axes else d for i, d in enumerate(x.shape.as_list())]
        ct_shape = [1 if i in axes else d for i, d in enumerate(x.ciphertexts.shape.as_list())]
        cts = tf.reshape(cts, shape if packed is None else ct_shape)
        packed = None if packed is None else x.packed_axis
    return x.with_ciphertexts(cts, shape=tf.TensorShape(shape), packed_axis=packed, level=level)


def matmul(a, b) -> HETensor:
    """``a @ b`` with one plaintext operand (matrix or vector)."""
    if isinstance(a, HETensor) and isinstance(b, HETensor):
        raise TypeError("matmul of two encrypted tensors is not supported: one operand must be plaintext")
    if isinstance(a, HETensor):
        return _matmul_right(a, as_float64(b))
    return _matmul_left(as_float64(a), b)


def _matmul_right(x: HETensor, w: tf.Tensor) -> HETensor:
    if x.rank == 0 or w.shape.rank not in (1, 2) or w.shape[0] != x.shape[-1]:
        raise ValueError(f"matmul: cannot multiply an encrypted {x.shape} by a plaintext {w.shape}")
    levels.require_levels(x, 1, "matmul")
    if w.shape.rank == 1:
        out = _matmul_right(x, w[:, None])
        packed = None if x.packed_axis == x.rank - 1 else out.packed_axis
        cts = tf.reshape(out.ciphertexts, out.ciphertexts.shape[:-1])
        return out.with_ciphertexts(cts, shape=out.shape[:-1], packed_axis=packed)
    shape = x.shape[:-1].concatenate([w.shape[1]])
    if x.packed_axis != x.rank - 1:
        cts = ops.matmul_constants(x.context, x.ciphertexts, w)
        return x.with_ciphertexts(cts, shape=shape, level=levels.after_product(x.level))
    _check_single_chunk(x, "matmul over the packed axis")
    if w.shape[1] > x.he_params.slot_count:
        raise ValueError(f"matmul: {w.shape[1]} outputs do not fit in {x.he_params.slot_count} slots")
    # The diagonal method also for one column: its diagonals are zero at the output slots past the result, so
    # no slot holds a partial sum (a product and a slot sum would need a mask: one more level).
    cts = ops.matmul_diagonal(x.context, x.ciphertexts, w)
    packed = None if w.shape[1] == 1 else x.packed_axis  # one column: one value per ciphertext, in slot 0
    return x.with_ciphertexts(cts, shape=shape, level=levels.after_product(x.level), packed_axis=packed)


def _matmul_left(w: tf.Tensor, x: HETensor) -> HETensor:
    if x.rank != 2 or w.shape.rank != 2 or w.shape[1] != x.shape[0]:
        raise ValueError(f"matmul: cannot multiply a plaintext {w.shape} by an encrypted {x.shape}")
    from he_tf.manipulation import transpose

    return transpose(_matmul_right(transpose(x), tf.transpose(w)))


def _check_single_chunk(x: HETensor, what: str) -> None:
    if x.packed_length > x.he_params.slot_count:
        raise ValueError(
            f"{what} needs the packed axis ({x.packed_length} values) to fit in one ciphertext "
            f"({x.he_params.slot_count} slots); use a larger poly_modulus_degree or the other layout"
        )


def roll(x: HETensor, shift, axis) -> HETensor:
    """``tf.roll``; on the packed axis by slot rotations (and a masking multiply, one level)."""
    shifts, axes = np.atleast_1d(shift).tolist(), np.atleast_1d(axis).tolist()
    if len(shifts) != len(axes):
        raise ValueError("roll: shift and axis must have the same length")
    for s, a in zip(shifts, axes):
        x = _roll_one(x, int(s), int(a) % x.rank)
    return x


def _roll_one(x: HETensor, shift: int, axis: int) -> HETensor:
    length = x.shape[axis]
    k = shift % length
    if k == 0:
        return x
    if axis != x.packed_axis:
        return x.with_ciphertexts(tf.gather(x.ciphertexts, (np.arange(length) - k) % length, axis=axis))
    _check_single_chunk(x, "roll over the packed axis")
    slots = x.he_params.slot_count
    if length == slots:
        return x.with_ciphertexts(ops.rotate(x.context, x.ciphertexts, steps=-k))
    levels.require_levels(x, 1, "roll over the packed axis")
    shifted_right = ops.rotate(x.context, x.ciphertexts, steps=-k)  # right for slots [k, length)
    wrapped = ops.rotate(x.context, x.ciphertexts, steps=length - k)  # the tail, into slots [0, k)
    keep_right = tf.constant(np.r_[np.zeros(k), np.ones(length - k)], tf.float64)
    keep_left = 1.0 - keep_right
    cts = ops.add(
        x.context,
        ops.multiply_plain(x.context, shifted_right, keep_right),
        ops.multiply_plain(x.context, wrapped, keep_left),
    )
    return x.with_ciphertexts(cts, level=levels.after_product(x.level))
