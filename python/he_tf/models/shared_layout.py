"""Joining and slicing secret-shared matrices: local to each computing player, no communication.

``SecretSharing`` keeps a private value as two ring shares, ``share0`` on its first player's device and
``share1`` on its second's (``SharedTensor``). Concatenating values or taking some of their rows is the
same operation on each share, so each player does it on its own share, on its device: nothing is sent,
nothing is truncated, and the result is exact. (The same through the protocol's public ops, as
products with public 0/1 integer matrices, would cost O(rows^2) per join.)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from he_tf.protocol import SecretSharing, SharedTensor, get_config


def concat(protocol: SecretSharing, values: Sequence[SharedTensor], axis: int) -> SharedTensor:
    """``tf.concat(values, axis)`` of `protocol`'s shared tensors (the same fraction bits)."""
    values = _owned(protocol, values, "concat")
    return _per_share(protocol, lambda shares: tf.concat(shares, axis), values)


def take_rows(protocol: SecretSharing, x: SharedTensor, indices) -> SharedTensor:
    """``tf.gather(x, indices, axis=0)``: the rows `indices` (public integers in [0, rows)) of `x`."""
    (x,) = _owned(protocol, [x], "take_rows")
    indices = np.asarray(indices)
    rows = int(x.shape[0])
    if indices.ndim != 1 or indices.dtype.kind not in "iu" or not ((0 <= indices) & (indices < rows)).all():
        raise ValueError(f"take_rows: indices must be a vector of integers in [0, {rows}), got {indices!r}")
    return _per_share(protocol, lambda shares: tf.gather(shares[0], tf.constant(indices, tf.int64)), [x])


def _owned(protocol: SecretSharing, values: Sequence[SharedTensor], op: str) -> list[SharedTensor]:
    values = list(values)
    if not values or not all(protocol.owns(v) for v in values):
        raise TypeError(f"{op}: expected shared tensors of {protocol!r}")
    if len({v.fraction_bits for v in values}) > 1:
        raise ValueError(f"{op}: the values have different fraction bits "
                         f"{sorted({v.fraction_bits for v in values})}; truncate them to the same first")
    return values


def _per_share(protocol: SecretSharing, fn: Callable[[list[tf.Tensor]], tf.Tensor],
               values: list[SharedTensor]) -> SharedTensor:
    """fn(the values' shares of party i) on party i's device, for both parties."""
    shares = []
    for party, player in enumerate(protocol.parties):
        with tf.device(get_config().device(player)):
            shares.append(fn([v.shares[party] for v in values]))
    return SharedTensor(shares[0], shares[1], values[0].fraction_bits, protocol.key)
