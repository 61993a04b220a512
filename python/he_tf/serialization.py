"""HETensors to and from tf.string tensors (one compressed string per ciphertext).

For sending ciphertexts outside TensorFlow (files, queues, HTTP). Inside TF,
tensors of ciphertexts also survive tf.io.serialize_tensor / parse_tensor and
TF's distributed runtime as they are.
"""

from __future__ import annotations

import tensorflow as tf

from he_tf import ops
from he_tf.keys import PublicContext
from he_tf.tensor import HETensor


ENCODINGS = ("zstd", "residues")


def serialize(x: HETensor, encoding: str = "zstd") -> tf.Tensor:
    """A tf.string tensor shaped like ``x.ciphertexts``.

    ``encoding``: ``"zstd"``, SEAL's bytes with its compression; or ``"residues"``, every residue
    stored in its prime's bit width (csrc/core/residues.h): as small for fresh ciphertexts (uniform
    residues do not compress further), several times faster to write and to read. :func:`deserialize`
    reads both.
    """
    if not isinstance(x, HETensor):
        raise TypeError(f"serialize takes an HETensor, got {type(x).__name__}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    return ops.serialize(x.context, x.ciphertexts, encoding=encoding)


def deserialize(public: PublicContext, serialized, spec: HETensor.Spec) -> HETensor:
    """Rebuilds an HETensor from :func:`serialize` output.

    ``spec`` is the original's type spec (``tf.type_spec_from_value(x)``): the
    shape, layout, level and scale, which travel separately from the bytes.
    """
    if not isinstance(public, PublicContext):
        raise TypeError(f"deserialize needs a PublicContext, got {type(public).__name__}")
    if not isinstance(spec, HETensor.Spec):
        raise TypeError("spec must be an HETensor type spec: tf.type_spec_from_value(x) of the original")
    if spec.params != public.params.as_tuple():
        raise ValueError(f"the ciphertexts were made with {spec.params}, the context has {public.params}")
    serialized = tf.convert_to_tensor(serialized, tf.string)
    if not serialized.shape.is_compatible_with(spec.ciphertexts.shape):
        raise ValueError(f"expected {spec.ciphertexts.shape} serialized ciphertexts, got {serialized.shape}")
    cts = ops.deserialize(public.tensor, serialized, tf.constant(spec.scale, tf.float64), level=spec.level)
    cts = tf.ensure_shape(cts, spec.ciphertexts.shape)
    return HETensor(
        ciphertexts=cts, context=public.tensor, shape=spec.shape, dtype=spec.dtype, layout=spec.layout,
        packed_axis=spec.packed_axis, level=spec.level, scale=spec.scale, params=spec.params,
    )
