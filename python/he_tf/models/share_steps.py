"""The steps a hybrid model runs on secret shares: ReLU and max pooling, exactly.

Each step computes on float64 NumPy (``plain``, the reference) and on a
:class:`~he_tf.protocol.SharedTensor` of shape ``(samples, features)``
(``shared``), with the secret-sharing protocol's exact comparisons
(``tf.nn.relu``, ``tf.math.reduce_max``; docs/protocols.md). Features are
flattened in row-major order, as the affine steps take them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True, eq=False)
class Relu:
    """``max(x, 0)``, elementwise."""

    def plain(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)

    def shared(self, x):
        return tf.nn.relu(x)

    def __repr__(self) -> str:
        return "Relu()"


@dataclasses.dataclass(frozen=True, eq=False)
class MaxPool2D:
    """Max pooling of images ``input_shape = (height, width, channels)`` over non-overlapping windows
    ``pool = (ph, pw)`` (strides equal to the pool size, valid padding) whose sizes divide the height and
    width (the importer crops the rest first, by an affine selection)."""

    input_shape: tuple[int, int, int]
    pool: tuple[int, int]

    def __post_init__(self) -> None:
        shape, pool = tuple(int(d) for d in self.input_shape), tuple(int(d) for d in self.pool)
        if len(shape) != 3 or len(pool) != 2 or min(shape) < 1:
            raise ValueError(f"MaxPool2D takes input_shape (height, width, channels) and pool (ph, pw), got "
                             f"{self.input_shape} and {self.pool}")
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "pool", pool)
        (height, width, _), (ph, pw) = shape, pool
        if ph < 1 or pw < 1 or height % ph or width % pw:
            raise ValueError(f"a {ph}x{pw} pooling window does not tile images of {height}x{width}")

    @property
    def inputs(self) -> int:
        return math.prod(self.input_shape)

    @property
    def outputs(self) -> int:
        (height, width, channels), (ph, pw) = self.input_shape, self.pool
        return (height // ph) * (width // pw) * channels

    def _windows(self) -> list[int]:
        """The sample axes ``(oh, ph, ow, pw, channels)`` the flattened image reshapes to."""
        (height, width, channels), (ph, pw) = self.input_shape, self.pool
        return [height // ph, ph, width // pw, pw, channels]

    def plain(self, x: np.ndarray) -> np.ndarray:
        return x.reshape([len(x)] + self._windows()).max(axis=(2, 4)).reshape(len(x), self.outputs)

    def shared(self, x):
        samples = int(x.shape[0])
        windows = tf.reshape(x, [samples] + self._windows())
        return tf.reshape(tf.math.reduce_max(windows, axis=[2, 4]), [samples, self.outputs])

    def __repr__(self) -> str:
        return f"MaxPool2D({self.pool[0]}x{self.pool[1]} on {self.input_shape})"
