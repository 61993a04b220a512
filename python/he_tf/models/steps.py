"""The steps an encrypted model runs: affine maps and polynomial activations.

Each step knows the multiplicative levels it uses, how to run on an
HETensor, how to run on float64 NumPy (the exact reference the encrypted
result is compared with), which Galois keys it needs in vector layout, the
level and scale of its result (as he_tf's arithmetic plans them) and an
interval holding its outputs given intervals holding its inputs (worst case,
for the compiler's magnitude check).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Union

import numpy as np
import tensorflow as tf

import he_tf
from he_tf import levels, ops, packing
from he_tf.arithmetic import poly_depth
from he_tf.models import rotations

Interval = tuple[np.ndarray, np.ndarray]  # (low, high), one value per feature


def _float_array(value, name: str, ndim: int) -> np.ndarray:
    array = np.array(value, dtype=np.float64)  # a copy: steps are immutable
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    array.setflags(write=False)
    return array


@dataclasses.dataclass(frozen=True, eq=False)
class Dense:
    """``x @ weights + bias`` with plaintext weights ``(inputs, outputs)`` and bias ``(outputs,)``."""

    weights: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        weights = _float_array(self.weights, "weights", 2)
        bias = _float_array(self.bias, "bias", 1)
        if bias.shape[0] != weights.shape[1]:
            raise ValueError(f"bias has {bias.shape[0]} values for {weights.shape[1]} outputs")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "bias", bias)

    @property
    def inputs(self) -> int:
        return self.weights.shape[0]

    @property
    def outputs(self) -> int:
        return self.weights.shape[1]

    @property
    def depth(self) -> int:
        return 1

    def then(self, other: Dense) -> Dense:
        """The single affine map ``other(self(x))``: consecutive affine maps cost one level, not two."""
        return Dense(self.weights @ other.weights, self.bias @ other.weights + other.bias)

    def scaled(self, factor: float) -> Dense:
        return Dense(self.weights * factor, self.bias * factor)

    def plain(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights + self.bias

    def interval(self, low: np.ndarray, high: np.ndarray) -> Interval:
        """Exact bounds of ``x @ weights + bias`` over the box ``low <= x <= high``."""
        center, radius = (low + high) / 2, (high - low) / 2
        middle, spread = center @ self.weights + self.bias, radius @ np.abs(self.weights)
        return middle - spread, middle + spread

    def plan(self, params: he_tf.Params, level: int, scale: float) -> tuple[int, float]:
        """Plaintext weights are encoded at the prime the rescale drops: the scale is unchanged."""
        return levels.after_product(level), scale

    def encrypted(self, x: he_tf.HETensor) -> he_tf.HETensor:
        # On the packed (feature) axis this is the diagonal method, also for one output: its diagonals leave
        # zeros in every slot past the outputs, so the bias (added to the outputs' slots only) and any later
        # polynomial keep them zero and a response holds nothing but the outputs.
        return x @ self.weights + self.bias

    def encrypted_folded(self, x: he_tf.HETensor, samples: int) -> he_tf.HETensor:
        """:meth:`encrypted` for batch-layout slots holding two samples each (:mod:`he_tf.models.complex_slots`):
        ``samples`` samples in ``x``'s rows, the first in the real parts and the rest in the imaginary parts.
        The products by real weights act on both parts alike; the bias is added to the parts that hold a
        sample, so every other part of every slot stays zero."""
        rows = x.shape[0] if x.rank == 2 else None
        if x.layout != "batch" or rows is None or not rows <= samples <= 2 * rows:
            raise ValueError(f"{samples} complex-packed samples come in batch layout, shape (rows, features) with "
                             f"rows = ceil(samples / 2); got layout={x.layout!r}, shape {tuple(x.shape.as_list())}")
        y = x @ self.weights
        slots = y.he_params.slot_count
        index = np.arange(rows)[:, None]
        bias = np.broadcast_to(self.bias, (rows, self.outputs))
        real = packing.pack(tf.constant(bias, tf.float64), 0, slots)  # [chunks, outputs, n]
        imag = packing.pack(tf.constant(np.where(index < samples - rows, bias, 0.0), tf.float64), 0, slots)
        plain = tf.concat([real, imag], axis=-1)  # real parts, then imaginary parts
        return y.with_ciphertexts(ops.add_plain(y.context, y.ciphertexts, plain, complex=True))

    def rotation_steps(self, packed: bool, slots: int) -> tuple[list[int], bool]:
        """(Galois steps, whether the output is still packed), given whether the input is packed on its
        feature axis."""
        if not packed:
            return [], False
        # One output leaves one value per ciphertext, no packed axis.
        return rotations.diagonal_matmul(self.inputs, self.outputs, slots), self.outputs > 1

    def __repr__(self) -> str:
        return f"Dense({self.inputs} -> {self.outputs})"


@dataclasses.dataclass(frozen=True, eq=False)
class Square:
    """``x * x``, elementwise: one level."""

    @property
    def depth(self) -> int:
        return 1

    def plain(self, x: np.ndarray) -> np.ndarray:
        return x * x

    def interval(self, low: np.ndarray, high: np.ndarray) -> Interval:
        squares = np.maximum(low * low, high * high)
        return np.where((low <= 0) & (high >= 0), 0.0, np.minimum(low * low, high * high)), squares

    def plan(self, params: he_tf.Params, level: int, scale: float) -> tuple[int, float]:
        return levels.rescaled(params, level, scale * scale)

    def encrypted(self, x: he_tf.HETensor) -> he_tf.HETensor:
        return tf.math.square(x)

    def rotation_steps(self, packed: bool, slots: int) -> tuple[list[int], bool]:
        return [], packed

    def __repr__(self) -> str:
        return "Square()"


@dataclasses.dataclass(frozen=True, eq=False)
class Polynomial:
    """``polyval(coeffs, x)`` elementwise; ``coeffs`` highest degree first, as ``tf.math.polyval`` takes them.

    ``label`` says what it stands for in summaries (e.g. ``"sigmoid on [-8, 8]"``).
    """

    coeffs: np.ndarray
    label: str = "polynomial"

    def __post_init__(self) -> None:
        coeffs = np.trim_zeros(_float_array(self.coeffs, "coeffs", 1), "f")
        if coeffs.size < 2:
            raise ValueError("a polynomial activation needs degree >= 1")
        coeffs.setflags(write=False)
        object.__setattr__(self, "coeffs", coeffs)

    @property
    def degree(self) -> int:
        return self.coeffs.size - 1

    @property
    def depth(self) -> int:
        return poly_depth(self.degree)

    def plain(self, x: np.ndarray) -> np.ndarray:
        return np.polyval(self.coeffs, x)

    def interval(self, low: np.ndarray, high: np.ndarray) -> Interval:
        """``±(sum |c_k| m^k)`` with ``m`` the inputs' largest magnitude: bounds every partial sum too."""
        m = np.maximum(np.abs(low), np.abs(high))
        bound = np.polyval(np.abs(self.coeffs), m)
        return -bound, bound

    def plan(self, params: he_tf.Params, level: int, scale: float) -> tuple[int, float]:
        """Every term is brought to the input's scale before the one rescale."""
        return level - self.depth, scale

    def encrypted(self, x: he_tf.HETensor) -> he_tf.HETensor:
        return tf.math.polyval([float(c) for c in self.coeffs], x)

    def rotation_steps(self, packed: bool, slots: int) -> tuple[list[int], bool]:
        return [], packed

    def __repr__(self) -> str:
        return f"Polynomial(degree {self.degree}: {self.label})"


Step = Union[Dense, Square, Polynomial]


def split_output_activation(items: list, misplaced: Callable[[str], str]) -> tuple[list[Step], str]:
    """An importer's items (steps, and activation names) as its steps and the output activation
    (``"linear"`` if none); ValueError(``misplaced(name)``) for an activation before the last item."""
    names = [item for item in items if isinstance(item, str)]
    if names and (len(names) > 1 or not isinstance(items[-1], str)):
        raise ValueError(misplaced(names[0]))
    return [item for item in items if not isinstance(item, str)], names[0] if names else "linear"


def fold_affine(steps: list[Step]) -> list[Step]:
    """Merges runs of consecutive Dense steps into one (normalizations, linear layers): fewer levels."""
    folded: list[Step] = []
    for step in steps:
        if isinstance(step, Dense) and folded and isinstance(folded[-1], Dense):
            folded[-1] = folded[-1].then(step)
        else:
            folded.append(step)
    return folded
