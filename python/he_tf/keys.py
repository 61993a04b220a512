"""Key sets: a PublicContext to compute with and a SecretKey to decrypt with.

The two are separate objects with separate bytes. Nothing that holds a
PublicContext (an HETensor, a server) can reach the secret key.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

import tensorflow as tf

from he_tf import _core, ops
from he_tf.params import Params


def _parse(op, serialized: bytes, what: str) -> tf.Tensor:
    with tf.init_scope():  # always an eager tensor, even when first used inside tf.function
        try:
            return op(tf.constant(serialized, dtype=tf.string))
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(f"cannot load {what}: {e.message}") from None


def _header(read, serialized: bytes) -> tuple[int, Params]:
    if not isinstance(serialized, (bytes, bytearray)):
        raise TypeError(f"expected bytes, got {type(serialized).__name__}")
    key_id, n, bits, scale_bits = read(bytes(serialized))
    return key_id, Params(n, tuple(bits), scale_bits)


class PublicContext:
    """Parameters plus public, relinearization and Galois keys of one key set.

    Safe to hand to anyone: it encrypts and computes, never decrypts.
    """

    def __init__(self, serialized: bytes):
        self.key_id, self.params = _header(_core.read_public_header, serialized)
        self._bytes = bytes(serialized)
        self._tensor = _parse(ops.public_context, self._bytes, "a public context")

    @classmethod
    def deserialize(cls, serialized: bytes) -> PublicContext:
        """Loads a context from :meth:`serialize` bytes; ``ValueError`` if they are malformed."""
        return cls(serialized)

    def serialize(self) -> bytes:
        return self._bytes

    @property
    def tensor(self) -> tf.Tensor:
        """The scalar ``tf.variant`` tensor every he-tf op takes."""
        return self._tensor

    def __repr__(self) -> str:
        return f"PublicContext(key_id={self.key_id:016x}, params={self.params}, bytes={len(self._bytes)})"


class SecretKey:
    """The secret key of one key set: keep it with the data owner."""

    def __init__(self, serialized: bytes):
        self.key_id, self.params = _header(_core.read_secret_header, serialized)
        self._bytes = bytes(serialized)
        self._tensor = _parse(ops.secret_key, self._bytes, "a secret key")

    @classmethod
    def deserialize(cls, serialized: bytes) -> SecretKey:
        return cls(serialized)

    def serialize(self) -> bytes:
        return self._bytes

    @property
    def tensor(self) -> tf.Tensor:
        return self._tensor

    def __repr__(self) -> str:
        return f"SecretKey(key_id={self.key_id:016x})"


@dataclasses.dataclass(frozen=True)
class KeySet:
    """A freshly generated key set. Give ``public`` away; keep ``secret``."""

    public: PublicContext
    secret: SecretKey

    @classmethod
    def generate(
        cls, params: Params | None = None, rotations: Iterable[int] | str | None = "power_of_two"
    ) -> KeySet:
        """Generates keys for ``params`` (default ``Params()``).

        ``rotations`` chooses the Galois keys: ``"power_of_two"`` for every
        power-of-two slot rotation in both directions (enough for any rotation,
        sums and matmuls), a list of steps for exactly those, or ``None`` for none.
        """
        params = params or Params()
        if isinstance(rotations, str):
            if rotations != "power_of_two":
                raise ValueError(f"rotations must be 'power_of_two', a list of steps or None, got {rotations!r}")
            steps = None
        else:
            steps = [] if rotations is None else [int(s) for s in rotations]
        public, secret = _core.generate_keys(
            params.poly_modulus_degree, list(params.coeff_mod_bit_sizes), params.scale_bits, steps
        )
        return cls(PublicContext(public), SecretKey(secret))
