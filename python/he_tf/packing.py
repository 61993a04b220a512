"""Arranging a logical tensor's packed axis into ciphertext slots and back.

The packed axis of length S is split into ``chunks = ceil(S / slots)``
ciphertexts of ``n = ceil(S / chunks)`` values each (zero padded). The
ciphertext tensor has the logical shape with the packed axis replaced by
``chunks``; the encrypt/decrypt ops see values as ``[ciphertexts..., n]``.
"""

from __future__ import annotations

import math

import tensorflow as tf


def chunking(length: int, slots: int) -> tuple[int, int]:
    """(ciphertexts, values per ciphertext) for a packed axis of ``length``."""
    chunks = max(1, math.ceil(length / slots))
    return chunks, max(1, math.ceil(length / chunks))


def pack(values: tf.Tensor, axis: int, slots: int) -> tf.Tensor:
    """``values`` (float64, rank >= 1) -> ``[ciphertext shape..., n]``."""
    rank = values.shape.rank
    length = values.shape[axis]
    chunks, n = chunking(length, slots)
    moved = tf.experimental.numpy.moveaxis(values, axis, -1)  # [rest..., S]
    padding = [[0, 0]] * (rank - 1) + [[0, chunks * n - length]]
    moved = tf.pad(moved, padding)
    split = tf.reshape(moved, moved.shape[:-1].as_list() + [chunks, n])  # [rest..., chunks, n]
    return tf.experimental.numpy.moveaxis(split, -2, axis)  # [.., chunks (at axis), .., n]


def unpack(values: tf.Tensor, axis: int, length: int) -> tf.Tensor:
    """Inverse of :func:`pack`: ``[ciphertext shape..., n]`` -> logical values."""
    split = tf.experimental.numpy.moveaxis(values, axis, -2)  # [rest..., chunks, n]
    merged = tf.reshape(split, split.shape[:-2].as_list() + [-1])[..., :length]
    return tf.experimental.numpy.moveaxis(merged, -1, axis)
