"""``simulate``: CKKS's levels, scales and noise on plaintext values.

A :class:`SimulatedTensor` holds the plaintext values a CKKS HETensor would
decrypt to, plus the metadata the HETensor would carry (layout, packed axis,
level, scale). Every op applies he-tf's own level rules (``he_tf.levels``,
``arithmetic.poly_depth`` and ``sum_slots_depth``), so a program that
exhausts its levels under CKKS raises the same error here, at trace time.
Noise: each fresh value gets Gaussian noise of the standard deviation
measured from real CKKS under the same parameters (once per parameter set),
and each level a rescale consumes adds as much again.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Optional, Tuple

import numpy as np
import tensorflow as tf

import he_tf
from he_tf import levels
from he_tf.arithmetic import as_float64, poly_depth, sum_slots_depth
from he_tf.protocol import PrivateTensor, Protocol


class SimulatedTensor(tf.experimental.ExtensionType, PrivateTensor):
    """What a CKKS HETensor would hold, in plaintext: its values (with simulated noise) and metadata."""

    values: tf.Tensor
    layout: str
    packed_axis: Optional[int]
    level: int
    scale: float
    params: Tuple[int, Tuple[int, ...], int]
    protocol_key: str

    __name__ = "he_tf_simulate.SimulatedTensor"

    @property
    def shape(self) -> tf.TensorShape:
        return self.values.shape

    @property
    def dtype(self) -> tf.DType:
        return self.values.dtype

    @property
    def rank(self) -> int:
        return self.values.shape.rank

    @property
    def he_params(self) -> he_tf.Params:
        return he_tf.Params.from_tuple(self.params)

    @property
    def values_per_ciphertext(self) -> int:
        if self.packed_axis is None:
            return 1
        length, slots = self.shape[self.packed_axis], self.he_params.slot_count
        return -(-length // -(-length // slots))


@functools.lru_cache(maxsize=None)
def measured_noise(params_tuple: tuple) -> float:
    """The standard deviation of a fresh CKKS value's error under these parameters, measured once."""
    params = he_tf.Params.from_tuple(params_tuple)
    keys = he_tf.KeySet.generate(params, rotations=None)
    zeros = np.zeros(params.slot_count)
    return float(np.std(he_tf.decrypt(keys.secret, he_tf.encrypt(keys.public, zeros)).numpy()))


class Simulate(Protocol):
    """Runs a CKKS program on plaintext values, tracking what CKKS would do; nothing is private.

    Parameters as :class:`he_tf.protocol.CKKS`'s (``key_owner``, ``evaluator``, ``params``,
    ``layout``); ``noise=False`` computes exactly (levels and scales are still tracked).
    """

    name = "simulate"
    tensor_type = SimulatedTensor

    def __init__(self, key_owner: str = "client", evaluator: str = "server", params: he_tf.Params | None = None,
                 layout: str = "batch", noise: bool = True) -> None:
        super().__init__()
        self.key_owner, self.evaluator, self.layout = key_owner, evaluator, layout
        self.params = params or he_tf.Params()
        self.noise = noise
        self.check_players()

    @property
    def players(self) -> tuple[str, ...]:
        return (self.key_owner, self.evaluator)

    def _device(self, player: str) -> str:
        return he_tf.get_config().device(player)

    # --- private values -----------------------------------------------------------------------------
    def _sigma(self) -> float:
        return measured_noise(self.params.as_tuple()) if self.noise else 0.0

    def _noisy(self, values: tf.Tensor, times: int = 1) -> tf.Tensor:
        if not self.noise or times == 0:
            return values
        sigma = self._sigma() * math.sqrt(times)
        return values + tf.random.normal(tf.shape(values), stddev=sigma, dtype=tf.float64)

    def define_private_input(self, player: str, fn: Callable[[], object]) -> SimulatedTensor:
        if not callable(fn):
            raise TypeError(f"define_private_input takes a function that returns the value, got {type(fn).__name__}")
        he_tf.get_config().check(player)
        with tf.device(self._device(player)):
            value = tf.cast(tf.convert_to_tensor(fn()), tf.float64)
            packed = None if value.shape.rank == 0 else (0 if self.layout == "batch" else value.shape.rank - 1)
            return self._wrap(self._noisy(value), packed, self.params.depth, float(2**self.params.scale_bits))

    def define_private_variable(self, value, owner: str) -> SimulatedTensor:
        return self.define_private_input(owner, value if callable(value) else (lambda: value))

    def define_output(self, player: str, fn: Optional[Callable], x: SimulatedTensor):
        if player != self.key_owner:
            raise ValueError(f"CKKS can reveal a value only to the key owner {self.key_owner!r}, who holds the "
                             f"secret key; {player!r} cannot decrypt")
        with tf.device(self._device(player)):
            value = tf.identity(x.values)
            return value if fn is None else fn(value)

    def _wrap(self, values, packed, level, scale) -> SimulatedTensor:
        return SimulatedTensor(values=values, layout=self.layout, packed_axis=packed, level=level, scale=scale,
                               params=self.params.as_tuple(), protocol_key=self.key)

    def _like(self, x: SimulatedTensor, values, levels_used: int = 0, **changes) -> SimulatedTensor:
        fields = dict(packed=x.packed_axis, level=x.level - levels_used, scale=x.scale)
        fields.update(changes)
        return self._wrap(self._noisy(values, levels_used), **fields)

    @staticmethod
    def _plain(value) -> tf.Tensor:
        return as_float64(value)  # as CKKS reads plaintext operands: Python floats exactly

    # --- ops (he-tf's op table: a method per op) --------------------------------------------------------
    def add(self, a, b) -> SimulatedTensor:
        return self._add_or_subtract(a, b, tf.add, "add")

    def subtract(self, a, b) -> SimulatedTensor:
        return self._add_or_subtract(a, b, tf.subtract, "subtract")

    def _add_or_subtract(self, a, b, fn, op: str) -> SimulatedTensor:
        if isinstance(a, SimulatedTensor) and isinstance(b, SimulatedTensor):
            level, scale = levels.aligned([a, b], op)
            return self._like(a, fn(a.values, b.values), level=level, scale=scale)
        x = a if isinstance(a, SimulatedTensor) else b
        values = fn(*(v.values if isinstance(v, SimulatedTensor) else self._plain(v) for v in (a, b)))
        return self._like(x, values)

    def negative(self, x: SimulatedTensor) -> SimulatedTensor:
        return self._like(x, -x.values)

    def multiply(self, a, b) -> SimulatedTensor:
        if isinstance(a, SimulatedTensor) and isinstance(b, SimulatedTensor):
            low = a if a.level <= b.level else b
            levels.require_levels(low, 1, "multiply")
            level, scale = levels.rescaled(low.he_params, low.level, a.scale * b.scale)
            return self._like(low, a.values * b.values, 1, level=level, scale=scale)
        x, p = (a, b) if isinstance(a, SimulatedTensor) else (b, a)
        levels.require_levels(x, 1, "multiply")
        return self._like(x, x.values * self._plain(p), 1)

    def square(self, x: SimulatedTensor) -> SimulatedTensor:
        levels.require_levels(x, 1, "square")
        level, scale = levels.after_rescale(x, x.scale * x.scale)
        return self._like(x, x.values * x.values, 1, level=level, scale=scale)

    def polyval(self, coeffs, x: SimulatedTensor) -> SimulatedTensor:
        if isinstance(coeffs, (list, tuple)):
            coeffs = tf.stack([self._plain(c) for c in coeffs])
        coeffs = tf.reshape(self._plain(coeffs), [-1])
        depth = poly_depth(coeffs.shape[0] - 1)
        levels.require_levels(x, depth, f"polyval of degree {coeffs.shape[0] - 1}")
        return self._like(x, tf.math.polyval(tf.unstack(coeffs), x.values), depth)

    def matmul(self, a, b) -> SimulatedTensor:
        if isinstance(a, SimulatedTensor) and isinstance(b, SimulatedTensor):
            raise TypeError("matmul of two encrypted tensors is not supported: one operand must be plaintext")
        if isinstance(a, SimulatedTensor):
            return self._matmul_right(a, self._plain(b))
        return self.transpose(self._matmul_right(self.transpose(b), tf.transpose(self._plain(a))))

    def _matmul_right(self, x: SimulatedTensor, w: tf.Tensor) -> SimulatedTensor:
        if x.rank == 0 or w.shape.rank not in (1, 2) or w.shape[0] != x.shape[-1]:
            raise ValueError(f"matmul: cannot multiply an encrypted {x.shape} by a plaintext {w.shape}")
        levels.require_levels(x, 1, "matmul")
        vector = x.packed_axis == x.rank - 1
        if w.shape.rank == 1:
            return self._like(x, tf.linalg.matvec(x.values, w), 1, packed=None if vector else x.packed_axis)
        one_column = vector and w.shape[1] == 1
        return self._like(x, tf.matmul(x.values, w), 1, packed=None if one_column else x.packed_axis)

    def transpose(self, x: SimulatedTensor, perm=None) -> SimulatedTensor:
        perm = list(range(x.rank))[::-1] if perm is None else [int(p) for p in perm]
        packed = None if x.packed_axis is None else perm.index(x.packed_axis)
        return self._like(x, tf.transpose(x.values, perm), packed=packed)

    def reduce_sum(self, x: SimulatedTensor, axis=None, keepdims: bool = False) -> SimulatedTensor:
        axes = range(x.rank) if axis is None else np.atleast_1d(np.asarray(axis, dtype=np.int64)).tolist()
        axes = sorted({a % x.rank if x.rank else 0 for a in axes}, reverse=True)
        packed, used = x.packed_axis, 0
        for a in axes:
            if a == packed:
                used = sum_slots_depth(x.values_per_ciphertext)
                levels.require_levels(x, used, "reduce_sum over the packed axis")
                packed = None
            elif packed is not None and a < packed:
                packed -= 1
        if keepdims and packed is not None:
            packed = x.packed_axis
        return self._like(x, tf.reduce_sum(x.values, axis=axes, keepdims=keepdims), used, packed=packed)
