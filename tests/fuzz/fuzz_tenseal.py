"""Fuzzes ``he_tf.interop``'s TenSEAL loaders: ``context_from_tenseal``, ``from_tenseal`` (vector, tensor).

Input: one byte choosing the loader (0: a TenSEALContextProto, 1: a CKKSVectorProto, 2: a
CKKSTensorProto, modulo 3), then the message. What is accepted is used: a context encrypts (and its
secret key decrypts), a vector or tensor is decrypted and written back with ``to_tenseal``.
Documented failures: ``ValueError`` (``TenSEALFormatError``, ``ProtobufError``), ``TypeError`` and,
from the ops, ``tf.errors.InvalidArgumentError``. The corpus's parameters have no level to spare, so
vectors (whose slots he-tf must clear, one level) are refused after parsing and loading; batched
tensors go all the way.

    python -m tests.fuzz.fuzz_tenseal tests/fuzz/corpus/fuzz_tenseal [libFuzzer flags]
"""

from __future__ import annotations

import random

import numpy as np

from tests.fuzz import common
from tests.hostile import craft, tenseal_bytes

TARGETS = ("context", "vector", "tensor")


def mutate_message(data: bytes, rng: random.Random) -> bytes:
    """One SEAL object inside the message replaced by a mutation of it, its length prefix made right; or a
    protobuf-level edit (a length or varint enlarged, a field's wire type changed, the message cut)."""
    from tests.fuzz import mutate

    body = data[1:]
    if rng.random() < 0.4:
        pos = rng.randrange(len(body) + 1) if body else 0
        edits = [
            b"\xff" * rng.choice([1, 9, 10, 11]),
            b"\x12\xff\xff\xff\xff\x0f",
            b"\x08\x80\x80\x80\x80\x10",
            bytes([rng.randrange(256)]),
            b"",
        ]
        return data[:1] + body[:pos] + rng.choice(edits) + body[pos + rng.randrange(4) :]
    starts = [i for i in range(len(body) - 1) if body[i : i + 2] == b"\x5e\xa1"]
    if not starts:
        return data
    start = rng.choice(starts)
    header = craft.SealHeader.read(body, start)
    seal = body[start : start + header.size]
    new = mutate.mutate_seal(seal, rng) if rng.random() < 0.7 else mutate.mutate_kswitch(seal, rng)
    return data[:1] + body[:start] + new + body[start + header.size :]


def harness():
    import atheris
    import he_tf
    import tensorflow as tf

    with atheris.instrument_imports(include=["he_tf.interop"]):
        from he_tf import interop

    # The corpus key set as a TenSEAL context, adopted: its key-set id is that of the public key as
    # he-tf re-serializes it, which the vectors and tensors get and to_tenseal checks.
    keys = common.load_keys()
    context_bytes = tenseal_bytes.context(keys)
    public, secret = interop.context_from_tenseal(tenseal_bytes.context(keys, secret=True))

    def use(x) -> None:
        he_tf.decrypt(secret, x).numpy()
        interop.to_tenseal(x, context_bytes)

    def one_input(data: bytes) -> None:
        if not data:
            return
        target, body = TARGETS[data[0] % 3], data[1:]
        try:
            if target == "context":
                their_public, their_secret = interop.context_from_tenseal(body)
                x = he_tf.encrypt(their_public, np.zeros(2))
                if their_secret is not None:
                    he_tf.decrypt(their_secret, x).numpy()
            else:
                use(interop.from_tenseal(body, public, kind=target))
        except (ValueError, TypeError, tf.errors.InvalidArgumentError):
            pass

    return one_input, mutate_message


if __name__ == "__main__":
    common.main(harness)
