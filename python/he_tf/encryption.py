"""encrypt and decrypt: between plain tensors and HETensors."""

from __future__ import annotations

import tensorflow as tf

from he_tf import ops, packing
from he_tf.keys import PublicContext, SecretKey
from he_tf.params import Params
from he_tf.tensor import LAYOUTS, HETensor


def encrypt(public: PublicContext, x, layout: str = "batch", secret: SecretKey | None = None,
            imag=None) -> HETensor:
    """Encrypts a float tensor under ``public``.

    Parameters
    ----------
    public:
        The key set's :class:`PublicContext` (``keys.public``).
    x:
        A float16/32/64 tensor, NumPy array or nested list with a fully known shape.
    layout:
        ``"batch"`` packs axis 0 (samples) into slots: best throughput.
        ``"vector"`` packs the last axis (features): one sample per ciphertext.
    secret:
        Optionally the key set's :class:`SecretKey`: the data owner can encrypt
        with it instead, and the ciphertexts then serialize at about half the size.
    imag:
        Optionally a float tensor of ``x``'s shape: each slot then holds the complex value
        ``x + i imag``, two real values per slot. For computations that act on real and imaginary
        parts alike, i.e. linear ones with real coefficients (plaintext products, constant
        products, sums, rotations, rescales; plaintext additions added to both parts); a square or
        any ciphertext product mixes the parts. :func:`decrypt` returns the real parts,
        :func:`decrypt_parts` both.
    """
    if not isinstance(public, PublicContext):
        raise TypeError(
            f"encrypt needs a PublicContext (keys.public), got {type(public).__name__}"
            + ("; pass the secret key as secret=" if isinstance(public, SecretKey) else "")
        )
    if secret is not None and not isinstance(secret, SecretKey):
        raise TypeError(f"secret must be a SecretKey, got {type(secret).__name__}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"encrypt takes floating-point tensors, got {x.dtype.name}; cast it first (tf.cast)")
    if imag is not None:
        imag = tf.convert_to_tensor(imag)
        if not imag.dtype.is_floating or imag.shape != x.shape:
            raise ValueError(f"imag must be a float tensor of x's shape {x.shape}, got {imag.dtype.name} "
                             f"of shape {imag.shape}")
    return encrypt_with_context(public.tensor, public.params, x, layout, None if secret is None else secret.tensor,
                                imag)


def encrypt_with_context(
    context: tf.Tensor, params: Params, x: tf.Tensor, layout: str, secret_key: tf.Tensor | None = None,
    imag: tf.Tensor | None = None,
) -> HETensor:
    """:func:`encrypt` with a given copy of the context tensor (e.g. the encrypting player's own)."""
    if not x.shape.is_fully_defined():
        raise ValueError(f"encrypt needs a fully known shape, got {x.shape}")
    packed_axis = None if x.shape.rank == 0 else (0 if layout == "batch" else x.shape.rank - 1)

    def slot_rows(v: tf.Tensor) -> tf.Tensor:
        v = tf.cast(v, tf.float64)
        return tf.reshape(v, [1]) if packed_axis is None else packing.pack(v, packed_axis, params.slot_count)

    values = slot_rows(x)
    if imag is not None:  # rows of real parts, then imaginary parts (the ops' complex rows)
        values = tf.concat([values, slot_rows(imag)], axis=-1)
    complex_slots = imag is not None
    if secret_key is None:
        ciphertexts = ops.encrypt(context, values, complex=complex_slots)
    else:
        ciphertexts = ops.encrypt_symmetric(context, secret_key, values, complex=complex_slots)
    return HETensor(
        ciphertexts=ciphertexts, context=context, shape=x.shape, dtype=x.dtype, layout=layout,
        packed_axis=packed_axis, level=params.depth, scale=float(2**params.scale_bits), params=params.as_tuple(),
    )


def checked_ciphertexts(x: HETensor) -> tf.Tensor:
    """``x.ciphertexts``, each checked to be at the level and scale ``x`` declares.

    Ciphertexts can arrive from elsewhere (another player, ``tf.io.parse_tensor``); one whose scale or
    level differs from its tensor's would decrypt to a silently wrong value.
    """
    return ops.check_level_and_scale(x.context, x.ciphertexts, tf.constant(x.scale, tf.float64), level=x.level)


def decrypt(secret: SecretKey, x: HETensor) -> tf.Tensor:
    """Decrypts ``x`` with the key set's :class:`SecretKey`; returns a tensor of x's dtype and shape
    (the slots' real parts)."""
    _check_decrypt(secret, x)
    values = ops.decrypt(x.context, secret.tensor, checked_ciphertexts(x), num_values=x.values_per_ciphertext)
    return _logical(values, x)


def decrypt_parts(secret: SecretKey, x: HETensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(real, imag)``: both parts of ``x``'s slots (``encrypt(..., imag=)``), each of x's dtype and shape."""
    _check_decrypt(secret, x)
    n = x.values_per_ciphertext
    values = ops.decrypt(x.context, secret.tensor, checked_ciphertexts(x), num_values=2 * n, complex=True)
    return _logical(values[..., :n], x), _logical(values[..., n:], x)


def _check_decrypt(secret: SecretKey, x: HETensor) -> None:
    if not isinstance(secret, SecretKey):
        raise TypeError(f"decrypt needs the SecretKey (keys.secret), got {type(secret).__name__}")
    if not isinstance(x, HETensor):
        raise TypeError(f"decrypt takes an HETensor, got {type(x).__name__}")


def _logical(values: tf.Tensor, x: HETensor) -> tf.Tensor:
    if x.packed_axis is not None:
        values = packing.unpack(values, x.packed_axis, x.packed_length)
    return tf.cast(tf.reshape(values, x.shape), x.dtype)
