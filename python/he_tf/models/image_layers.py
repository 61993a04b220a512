"""Image layers as the matrices of their linear maps on flattened, row-major ``(height, width, channels)``.

A convolution, an average pooling, zero padding or a per-channel scaling is linear in its
input: on samples flattened in row-major order (channels last, as Keras and
TensorFlow store them) each is ``x @ matrix`` for one ``(inputs, outputs)``
matrix, built here exactly (no sampling) from the layer's weights and
geometry. As Dense steps they merge with their neighbours
(:func:`he_tf.models.steps.fold_affine`) and run in both layouts: in batch
layout (one image per slot, one ciphertext per pixel and channel) a
convolution is a plaintext-weighted sum of ciphertexts with no rotations,
whose cost is that of the matrix's non-zeros (the kernel skips zero
weights).

Padding follows TensorFlow's ``"same"`` rule: ``max((out - 1) * stride +
size - length, 0)`` zeros in all, the smaller half before. Average pooling
with ``"same"`` padding divides by the number of input positions the
window covers, not by its size, as TensorFlow does.
"""

from __future__ import annotations

import math

import numpy as np

PADDINGS = ("valid", "same")


def _axis(length: int, size: int, stride: int, padding: str) -> tuple[int, int]:
    """(output length, zeros padded before) along one spatial axis."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == "valid":
        out = (length - size) // stride + 1
        if out < 1:
            raise ValueError(f"a window of {size} does not fit in {length} positions without padding")
        return out, 0
    out = -(-length // stride)
    return out, max((out - 1) * stride + size - length, 0) // 2


def _taps(length: int, size: int, stride: int, padding: str) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Output length and, per window offset, the (output, input) positions it links inside the input."""
    out, before = _axis(length, size, stride, padding)
    taps = []
    for offset in range(size):
        outputs = np.arange(out)
        inputs = outputs * stride + offset - before
        keep = (inputs >= 0) & (inputs < length)
        taps.append((outputs[keep], inputs[keep]))
    return out, taps


def conv2d(kernel: np.ndarray, input_shape: tuple[int, int, int], strides: tuple[int, int],
           padding: str) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The matrix of a 2-D convolution (cross-correlation, as Keras computes it) with ``kernel``
    ``(kh, kw, in_channels, out_channels)``, and the output shape ``(oh, ow, out_channels)``."""
    height, width, channels = input_shape
    kh, kw, kernel_channels, filters = kernel.shape
    if kernel_channels != channels:
        raise ValueError(f"a kernel for {kernel_channels} channels on inputs of {channels}")
    oh, rows = _taps(height, kh, strides[0], padding)
    ow, cols = _taps(width, kw, strides[1], padding)
    matrix = np.zeros((height, width, channels, oh, ow, filters))
    for i, (out_y, in_y) in enumerate(rows):
        for j, (out_x, in_x) in enumerate(cols):
            # An (input, output) position pair fixes the offset: each entry is set once.
            matrix[in_y[:, None], in_x[None, :], :, out_y[:, None], out_x[None, :], :] = kernel[i, j]
    return matrix.reshape(height * width * channels, oh * ow * filters), (oh, ow, filters)


def average_pool2d(input_shape: tuple[int, int, int], pool_size: tuple[int, int], strides: tuple[int, int],
                   padding: str) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The matrix of a 2-D average pooling (each channel on its own) and the output shape."""
    height, width, channels = input_shape
    oh, rows = _taps(height, pool_size[0], strides[0], padding)
    ow, cols = _taps(width, pool_size[1], strides[1], padding)
    spatial = np.zeros((height, width, oh, ow))
    for out_y, in_y in rows:
        for out_x, in_x in cols:
            spatial[in_y[:, None], in_x[None, :], out_y[:, None], out_x[None, :]] = 1.0
    spatial = spatial.reshape(height * width, oh * ow)
    spatial /= spatial.sum(axis=0, keepdims=True)  # the positions each window covers
    return np.kron(spatial, np.eye(channels)), (oh, ow, channels)


def zero_pad2d(input_shape: tuple[int, int, int], padding: tuple[tuple[int, int], tuple[int, int]]
               ) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The matrix of zero padding ``((top, bottom), (left, right))`` (a selection) and the output shape."""
    height, width, channels = input_shape
    (top, bottom), (left, right) = padding
    out = (height + top + bottom, width + left + right, channels)
    index = np.arange(height * width * channels).reshape(input_shape)
    target = np.zeros(out, dtype=np.int64) - 1
    target[top:top + height, left:left + width] = index
    matrix = np.zeros((height * width * channels, math.prod(out)))
    kept = target.reshape(-1) >= 0
    matrix[target.reshape(-1)[kept], np.flatnonzero(kept)] = 1.0
    return matrix, out


def global_average_pool2d(input_shape: tuple[int, int, int]) -> np.ndarray:
    """The matrix of the mean over all positions, per channel: ``(h * w * c, c)``."""
    height, width, channels = input_shape
    return np.kron(np.full((height * width, 1), 1.0 / (height * width)), np.eye(channels))


def last_axis(kernel: np.ndarray, bias: np.ndarray, input_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``x @ kernel + bias`` applied along the last axis of every position (a Dense layer on images)."""
    positions = math.prod(input_shape[:-1])
    return np.kron(np.eye(positions), kernel), np.tile(bias, positions)


def per_channel(scale, shift, input_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``x * scale + shift`` with one value (or a scalar) per last-axis index, at every position:
    the diagonal matrix and the bias."""
    channels, positions = input_shape[-1], math.prod(input_shape[:-1])
    scale = np.broadcast_to(np.asarray(scale, np.float64).reshape(-1), (channels,))
    shift = np.broadcast_to(np.asarray(shift, np.float64).reshape(-1), (channels,))
    return np.diag(np.tile(scale, positions)), np.tile(shift, positions)
