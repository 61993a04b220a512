"""Block layout: feature blocks side by side in the slots, at the packing limit.

In batch layout every feature is one ciphertext column of samples, so a
request of ``n`` samples and ``F`` features takes ``F`` ciphertexts however few
slots the samples fill (569 of 2048 at N=4096). When ``blocks = floor(slots /
n) > 1``, ciphertext ``j`` holds ``blocks`` blocks of ``n`` slots, block ``k``
being feature ``j * blocks + k``: ``ceil(F / blocks)`` ciphertexts (10 instead
of 30 for the breast-cancer task). The server's dense layer then multiplies
every ciphertext by the weights of one block at a time and brings each block
to the output block with one rotation per block offset (``HeBlockDense``,
``csrc/core/block_dense.h``), so every slot but the outputs' is zero: no
partial sum leaves the server. Outputs are packed the same way, as many
output blocks per ciphertext as fit.

The logical tensor the client encrypts is the packed matrix
``(blocks * n, ciphertexts)``, an ordinary batch-layout HETensor, so the wire
format and its checks are unchanged; the request's meta says ``samples``.

Whether to pack is a cost model (:func:`choose`): ciphertexts cost the
client's encryption and serialization, the bytes, and the server's parsing;
blocks cost plaintext products and rotations on the server. The per-unit
costs are measured by ``python -m benchmarks.packing_costs`` and kept in
:data:`COSTS`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

import he_tf
from he_tf import levels, ops
from he_tf.models import rotations
from he_tf.tensor import HETensor


@dataclasses.dataclass(frozen=True)
class Costs:
    """Milliseconds per unit of work at one ring size (one thread), and bytes per request ciphertext."""

    ciphertext_ms: float  # encrypt + serialize (client) + parse (server), one request ciphertext
    ciphertext_bytes: int  # one seeded, compressed request ciphertext at the first level
    product_ms: float  # one ciphertext x plaintext product, accumulated
    rotation_ms: float  # one rotation (key switch) after the rescale, with the rescale
    constant_ms: float  # one ciphertext x constant product (the unpacked batch layout's dense layer)


COSTS = {
    4096: Costs(ciphertext_ms=3.01, ciphertext_bytes=43290, product_ms=0.136, rotation_ms=0.554, constant_ms=0.0487),
    8192: Costs(ciphertext_ms=4.76, ciphertext_bytes=126258, product_ms=0.13, rotation_ms=1.14, constant_ms=0.105),
    16384: Costs(ciphertext_ms=13.6, ciphertext_bytes=251162, product_ms=0.0392, rotation_ms=9.41, constant_ms=0.192),
    32768: Costs(ciphertext_ms=16.9, ciphertext_bytes=502124, product_ms=0.155, rotation_ms=6.17, constant_ms=0.435),
}
"""Measured by ``python -m benchmarks.packing_costs`` (2026-12-02, one thread, on a shared 2-core machine at
load average 5.7, so the absolute values are high and the 16384/32768 rotations noisy; docs/benchmarks.md).
The model only compares candidates: a request ciphertext costs several rotations at every size."""
BYTES_PER_MS = 125_000
"""The network the cost model assumes: 1 Gbit/s."""


@dataclasses.dataclass(frozen=True)
class BlockLayout:
    """How ``samples x features`` sit in the slots: ``blocks`` feature blocks of ``samples`` slots each."""

    samples: int
    features: int
    blocks: int
    slots: int

    def __post_init__(self) -> None:
        if min(self.samples, self.features, self.blocks, self.slots) < 1:
            raise ValueError(f"a block layout needs positive sizes, got {self}")
        if self.blocks > 1 and self.blocks * self.samples > self.slots:
            raise ValueError(f"{self.blocks} blocks of {self.samples} samples do not fit {self.slots} slots")
        if self.blocks > self.features:
            raise ValueError(f"{self.blocks} blocks for {self.features} features")

    @property
    def packed(self) -> bool:
        return self.blocks > 1

    @property
    def ciphertexts(self) -> int:
        """Ciphertexts of a request (columns of the packed matrix; times the chunks if not packed)."""
        return math.ceil(self.features / self.blocks)

    @property
    def shape(self) -> tuple[int, int]:
        """The logical shape the client encrypts in batch layout."""
        return self.blocks * self.samples, self.ciphertexts

    def output_blocks(self) -> int:
        """Output blocks per response ciphertext."""
        return self.slots // self.samples

    def output_shape(self, outputs: int) -> tuple[int, int]:
        return output_shape(self.samples, outputs, self.slots)

    def pack(self, x: np.ndarray) -> np.ndarray:
        """Features ``(samples, features)`` -> the packed matrix: feature ``j * blocks + k`` at rows of block k."""
        if not self.packed:
            return x
        padded = np.zeros((self.samples, self.ciphertexts * self.blocks), dtype=np.float64)
        padded[:, : self.features] = x
        return padded.reshape(self.samples, self.ciphertexts, self.blocks).transpose(2, 0, 1).reshape(self.shape)

    def pack_weights(self, weights: np.ndarray) -> np.ndarray:
        """``(features, outputs)`` -> ``(ciphertexts * blocks, outputs)``, rows past the features zero."""
        padded = np.zeros((self.ciphertexts * self.blocks, weights.shape[1]), dtype=np.float64)
        padded[: self.features] = weights
        return padded

    def rotation_steps(self, outputs: int) -> list[int]:
        return rotations.block_dense(self.samples, self.blocks, outputs, self.slots) if self.packed else []

    def cost_ms(self, outputs: int, costs: Costs) -> float:
        """The cost model: milliseconds one request takes on the path this layout changes."""
        cts = self.ciphertexts * math.ceil(self.samples / self.slots)  # unpacked: chunks of samples too
        moving = cts * (costs.ciphertext_ms + costs.ciphertext_bytes / BYTES_PER_MS)
        if not self.packed:
            return moving + cts * outputs * costs.constant_ms
        per = self.output_blocks()
        out_cts = math.ceil(outputs / per)
        shifts = self.blocks + min(outputs, per) - 1  # groups per output ciphertext
        return (moving + out_cts * shifts * self.ciphertexts * costs.product_ms
                + out_cts * (shifts - 1) * costs.rotation_ms)


def output_shape(samples: int, outputs: int, slots: int) -> tuple[int, int]:
    """A packed response's logical shape: output blocks stacked on the packed axis, one column per ciphertext."""
    per = slots // samples
    return min(outputs, per) * samples, math.ceil(outputs / per)


def unpack_outputs(raw: np.ndarray, samples: int, outputs: int, slots: int) -> np.ndarray:
    """A decrypted packed response (:func:`output_shape`) -> ``(samples, outputs)``."""
    per = slots // samples
    columns = [raw[(o % per) * samples:(o % per + 1) * samples, o // per] for o in range(outputs)]
    return np.stack(columns, axis=1)


def choose(samples: int, features: int, outputs: int, params: he_tf.Params) -> BlockLayout:
    """The layout of least modelled cost: from one feature per ciphertext to as many blocks as fit."""
    slots = params.slot_count
    most = min(features, slots // samples) if samples <= slots else 1
    costs = COSTS[params.poly_modulus_degree]
    layouts = [BlockLayout(samples, features, blocks, slots) for blocks in range(1, max(1, most) + 1)]
    return min(layouts, key=lambda layout: layout.cost_ms(outputs, costs))


def block_dense(x: HETensor, layout: BlockLayout, weights: np.ndarray, bias: np.ndarray,
                folded: int | None = None) -> HETensor:
    """``x @ weights + bias`` for ``x`` a packed request (:meth:`BlockLayout.pack`): one level, packed outputs.
    ``folded``: the samples of a complex-packed request (:mod:`he_tf.models.complex_slots`), the blocks'
    ``samples`` rows holding the first in their real parts and the rest in their imaginary parts; the bias
    goes to the parts that hold samples."""
    if x.level < 1:
        raise ValueError(f"a dense layer needs a level, the request is at level {x.level}")
    outputs = weights.shape[1]
    shape = layout.output_shape(outputs)
    cts = ops.block_dense(x.context, x.ciphertexts, tf.constant(layout.pack_weights(weights)),
                          tf.constant(bias, tf.float64), samples=layout.samples, blocks=layout.blocks,
                          imaginary_samples=0 if folded is None else folded - layout.samples)
    cts = tf.ensure_shape(cts, [1, shape[1]])
    return HETensor(ciphertexts=cts, context=x.context, shape=tf.TensorShape(shape), dtype=x.dtype,
                    layout="batch", packed_axis=0, level=levels.after_product(x.level), scale=x.scale, params=x.params)
