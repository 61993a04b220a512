"""HETensor: an encrypted tensor that TensorFlow code can pass around."""

from __future__ import annotations

import math

import tensorflow as tf

LAYOUTS = ("batch", "vector")


class HETensor(tf.experimental.ExtensionType):
    """A CKKS-encrypted tensor.

    One axis of the logical tensor (axis 0 for ``layout="batch"``, the last
    axis for ``"vector"``) is packed into ciphertext slots. ``ciphertexts`` is
    a ``tf.variant`` tensor of the logical shape with that axis replaced by the
    number of ciphertexts it spans; ``context`` is the public context that
    every op on it uses. The secret key is never part of an HETensor.
    """

    ciphertexts: tf.Tensor
    context: tf.Tensor
    shape: tf.TensorShape
    dtype: tf.DType
    layout: str
    level: int
    scale: float

    __name__ = "he_tf.HETensor"

    def __validate__(self):
        if self.ciphertexts.dtype != tf.variant:
            raise TypeError(f"HETensor.ciphertexts must be a tf.variant tensor, got {self.ciphertexts.dtype}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not self.shape.is_fully_defined():
            raise ValueError(f"HETensor needs a fully known shape, got {self.shape}")

    @property
    def packed_axis(self) -> int:
        """The logical axis held in ciphertext slots (0 for a scalar)."""
        return 0 if self.layout == "batch" or self.shape.rank == 0 else self.shape.rank - 1

    def with_ciphertexts(self, ciphertexts: tf.Tensor, **changes) -> HETensor:
        """An HETensor like this one around other ciphertexts (and optionally other metadata)."""
        fields = dict(
            context=self.context, shape=self.shape, dtype=self.dtype,
            layout=self.layout, level=self.level, scale=self.scale,
        )
        fields.update(changes)
        return HETensor(ciphertexts=ciphertexts, **fields)

    def __repr__(self) -> str:
        return (
            f"HETensor(shape={tuple(self.shape.as_list())}, dtype={self.dtype.name}, layout={self.layout!r}, "
            f"level={self.level}, scale=2^{math.log2(self.scale):g})"
        )

    def __add__(self, other):
        from he_tf.arithmetic import add

        return add(self, other) if isinstance(other, HETensor) else NotImplemented

    def __radd__(self, other):
        from he_tf.arithmetic import add

        return add(other, self) if isinstance(other, HETensor) else NotImplemented
