"""HETensor: an encrypted tensor that TensorFlow code can pass around."""

from __future__ import annotations

import math
from typing import Optional, Tuple

import tensorflow as tf

from he_tf.params import Params

LAYOUTS = ("batch", "vector")


class HETensor(tf.experimental.ExtensionType):
    """A CKKS-encrypted tensor.

    One axis of the logical tensor, ``packed_axis``, is packed into ciphertext
    slots (axis 0 for ``layout="batch"``, the last axis for ``"vector"``).
    ``ciphertexts`` is a ``tf.variant`` tensor of the logical shape with that
    axis replaced by the number of ciphertexts it spans. After a sum over the
    packed axis there is none (``packed_axis is None``): every ciphertext then
    holds one value, in its first slot, and ``ciphertexts`` has the logical
    shape. ``context`` is the public context every op uses; ``level``,
    ``scale`` and ``params`` (the parameter tuple) let he-tf plan levels and
    scales when tracing. The secret key is never part of an HETensor.
    """

    ciphertexts: tf.Tensor
    context: tf.Tensor
    shape: tf.TensorShape
    dtype: tf.DType
    layout: str
    packed_axis: Optional[int]
    level: int
    scale: float
    params: Tuple[int, Tuple[int, ...], int]

    __name__ = "he_tf.HETensor"
    __array_ufunc__ = None  # NumPy operands defer to our operators instead of iterating

    def __validate__(self):
        if self.ciphertexts.dtype != tf.variant:
            raise TypeError(f"HETensor.ciphertexts must be a tf.variant tensor, got {self.ciphertexts.dtype}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not self.shape.is_fully_defined():
            raise ValueError(f"HETensor needs a fully known shape, got {self.shape}")

    @property
    def he_params(self) -> Params:
        """The CKKS parameters the ciphertexts were made with."""
        return Params.from_tuple(self.params)

    @property
    def rank(self) -> int:
        return self.shape.rank

    @property
    def packed_length(self) -> int:
        """Values along the packed axis (1 if there is none)."""
        return 1 if self.packed_axis is None else self.shape[self.packed_axis]

    @property
    def values_per_ciphertext(self) -> int:
        """How many leading slots of each ciphertext hold values."""
        if self.packed_axis is None:
            return 1
        return -(-self.packed_length // self.ciphertexts.shape[self.packed_axis])

    def with_ciphertexts(self, ciphertexts: tf.Tensor, **changes) -> HETensor:
        """An HETensor like this one around other ciphertexts (and optionally other metadata)."""
        fields = dict(
            context=self.context, shape=self.shape, dtype=self.dtype, layout=self.layout,
            packed_axis=self.packed_axis, level=self.level, scale=self.scale, params=self.params,
        )
        fields.update(changes)
        return HETensor(ciphertexts=ciphertexts, **fields)

    def __repr__(self) -> str:
        return (
            f"HETensor(shape={tuple(self.shape.as_list())}, dtype={self.dtype.name}, layout={self.layout!r}, "
            f"level={self.level}, scale=2^{math.log2(self.scale):g})"
        )

    # The operators (+, -, *, @, unary -) are installed by he_tf.routing, from the op table.
    def __bool__(self):
        raise TypeError("the truth value of an encrypted tensor is unknown; decrypt it first")

