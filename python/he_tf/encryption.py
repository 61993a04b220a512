"""encrypt and decrypt: between plain tensors and HETensors."""

from __future__ import annotations

import tensorflow as tf

from he_tf import ops, packing
from he_tf.keys import PublicContext, SecretKey
from he_tf.tensor import LAYOUTS, HETensor


def encrypt(public: PublicContext, x, layout: str = "batch") -> HETensor:
    """Encrypts a float tensor under ``public``.

    Parameters
    ----------
    public:
        The key set's :class:`PublicContext` (``keys.public``).
    x:
        A float16/32/64 tensor, NumPy array or nested list with a fully known shape.
    layout:
        ``"batch"`` packs axis 0 (samples) into slots, ``"vector"`` the last axis.
    """
    if not isinstance(public, PublicContext):
        raise TypeError(
            f"encrypt needs a PublicContext (keys.public), got {type(public).__name__}"
            + ("; the secret key is only for decrypt" if isinstance(public, SecretKey) else "")
        )
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"encrypt takes floating-point tensors, got {x.dtype.name}; cast it first (tf.cast)")
    if not x.shape.is_fully_defined():
        raise ValueError(f"encrypt needs a fully known shape, got {x.shape}")
    as_vector = tf.reshape(x, [1]) if x.shape.rank == 0 else x
    axis = 0 if layout == "batch" else as_vector.shape.rank - 1
    values = packing.pack(tf.cast(as_vector, tf.float64), axis, public.params.slot_count)
    return HETensor(
        ciphertexts=ops.encrypt(public.tensor, values),
        context=public.tensor,
        shape=x.shape,
        dtype=x.dtype,
        layout=layout,
        level=public.params.depth,
        scale=float(2**public.params.scale_bits),
    )


def decrypt(secret: SecretKey, x: HETensor) -> tf.Tensor:
    """Decrypts ``x`` with the key set's :class:`SecretKey`; returns a tensor of x's dtype and shape."""
    if not isinstance(secret, SecretKey):
        raise TypeError(f"decrypt needs the SecretKey (keys.secret), got {type(secret).__name__}")
    if not isinstance(x, HETensor):
        raise TypeError(f"decrypt takes an HETensor, got {type(x).__name__}")
    length = 1 if x.shape.rank == 0 else x.shape[x.packed_axis]
    n = -(-length // x.ciphertexts.shape[x.packed_axis])  # values per ciphertext, as packed
    values = ops.decrypt(x.context, secret.tensor, x.ciphertexts, num_values=n)
    plain = packing.unpack(values, x.packed_axis, length)
    return tf.cast(tf.reshape(plain, x.shape), x.dtype)
