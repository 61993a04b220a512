"""Reshape, transpose, concat, stack and gather HETensors along axes that are
not packed into slots. They move whole ciphertexts (no HE work); TF's own ops
do it where they support tf.variant, an index gather or stitch elsewhere.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from he_tf import levels
from he_tf.tensor import HETensor


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def _refuse_packed(x: HETensor, axis: int, op: str) -> None:
    if axis == x.packed_axis:
        raise ValueError(
            f"{op} along axis {axis}, which is packed into ciphertext slots, is not supported; "
            f"encrypt with the other layout to {op} along it"
        )


def _resolve_shape(old: tf.TensorShape, shape) -> tf.TensorShape:
    """The static target shape of a reshape, with one -1 resolved."""
    dims = tf.get_static_value(tf.convert_to_tensor(shape, tf.int64))
    if dims is None:
        raise ValueError("reshape of an HETensor needs a static target shape")
    dims, total = [int(d) for d in np.atleast_1d(dims)], old.num_elements()
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise ValueError(f"invalid reshape target {dims}")
    known = int(np.prod([d for d in dims if d != -1]))
    if -1 in dims:
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {old} into {dims}")
        dims[dims.index(-1)] = total // known
    if int(np.prod(dims)) != total:
        raise ValueError(f"cannot reshape {old} ({total} values) into {dims}")
    return tf.TensorShape(dims)


def reshape(x: HETensor, shape) -> HETensor:
    """Reshape keeping the packed axis intact (same length, same elements before it)."""
    new = _resolve_shape(x.shape, shape)
    if x.packed_axis is None:
        return x.with_ciphertexts(tf.reshape(x.ciphertexts, new), shape=new)
    before = int(np.prod(x.shape[: x.packed_axis]))
    for q in range(new.rank):
        if int(np.prod(new[:q])) == before and new[q] == x.packed_length:
            ct_shape = new.as_list()
            ct_shape[q] = x.ciphertexts.shape[x.packed_axis]
            return x.with_ciphertexts(tf.reshape(x.ciphertexts, ct_shape), shape=new, packed_axis=q)
    raise ValueError(
        f"reshape from {x.shape} to {new} would split or merge axis {x.packed_axis}, which is packed into "
        "ciphertext slots; only axes around it can be reshaped"
    )


def transpose(x: HETensor, perm=None) -> HETensor:
    perm = list(range(x.rank))[::-1] if perm is None else [_axis(int(p), x.rank) for p in perm]
    if sorted(perm) != list(range(x.rank)):
        raise ValueError(f"transpose: {perm} is not a permutation of {x.rank} axes")
    ct_shape = x.ciphertexts.shape.as_list()
    order = np.arange(int(np.prod(ct_shape))).reshape(ct_shape).transpose(perm)
    cts = tf.reshape(tf.gather(tf.reshape(x.ciphertexts, [-1]), order.ravel()), order.shape)
    packed = None if x.packed_axis is None else perm.index(x.packed_axis)
    return x.with_ciphertexts(cts, shape=tf.TensorShape([x.shape[p] for p in perm]), packed_axis=packed)


def _aligned(values: list[HETensor], op: str) -> list[HETensor]:
    if not values or not all(isinstance(v, HETensor) for v in values):
        raise TypeError(f"{op}: expects a non-empty list of HETensors")
    first = values[0]
    for v in values[1:]:
        if v.params != first.params or v.packed_axis != first.packed_axis or v.rank != first.rank:
            raise ValueError(f"{op}: all tensors need the same parameters, rank and packed axis")
    return levels.align_all(values, op)


def concat(values: list[HETensor], axis: int) -> HETensor:
    values = _aligned(list(values), "concat")
    first = values[0]
    axis = _axis(axis, first.rank)
    _refuse_packed(first, axis, "concat")
    shapes = [v.ciphertexts.shape.as_list() for v in values]
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    positions = np.arange(int(np.prod(out_shape))).reshape(out_shape)
    pieces = np.split(positions, np.cumsum([s[axis] for s in shapes])[:-1], axis=axis)
    cts = tf.dynamic_stitch([p.ravel() for p in pieces], [tf.reshape(v.ciphertexts, [-1]) for v in values])
    shape = first.shape.as_list()
    shape[axis] = sum(v.shape[axis] for v in values)
    return first.with_ciphertexts(tf.reshape(cts, out_shape), shape=tf.TensorShape(shape))


def stack(values: list[HETensor], axis: int = 0) -> HETensor:
    values = _aligned(list(values), "stack")
    first = values[0]
    axis = _axis(axis, first.rank + 1)
    packed = first.packed_axis
    if packed is not None and axis <= packed:
        packed += 1
    shape = first.shape.as_list()
    shape.insert(axis, len(values))
    if len(values) == 1:  # tf.stack of one tensor uses ExpandDims, which has no variant kernel
        ct_shape = first.ciphertexts.shape.as_list()
        ct_shape.insert(axis, 1)
        cts = tf.reshape(first.ciphertexts, ct_shape)
    else:
        cts = tf.stack([v.ciphertexts for v in values], axis=axis)
    return first.with_ciphertexts(cts, shape=tf.TensorShape(shape), packed_axis=packed)


def gather(x: HETensor, indices, axis: int = 0) -> HETensor:
    axis = _axis(axis, x.rank)
    _refuse_packed(x, axis, "gather")
    indices = tf.convert_to_tensor(indices)
    if not indices.shape.is_fully_defined():
        raise ValueError("gather on an HETensor needs indices of a known shape")
    cts = tf.gather(x.ciphertexts, indices, axis=axis)
    shape = x.shape[:axis].concatenate(indices.shape).concatenate(x.shape[axis + 1 :])
    packed = x.packed_axis
    if packed is not None and packed > axis:
        packed += indices.shape.rank - 1
    return x.with_ciphertexts(cts, shape=shape, packed_axis=packed)
