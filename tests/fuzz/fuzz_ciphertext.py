"""Fuzzes ``he_tf.deserialize`` on one serialized ciphertext, then its first uses (x + 1.0, decrypt).

Input: an ``he_tf.serialize`` string without its trailing CRC-32, which the harness appends, so that
mutations reach the loader behind the checksum (the bad-input matrix covers the checksum itself).
Documented failures: ``ValueError``, ``tf.errors.InvalidArgumentError``.

    python -m tests.fuzz.fuzz_ciphertext tests/fuzz/corpus/fuzz_ciphertext [libFuzzer flags]
"""

from __future__ import annotations

import numpy as np

from tests.fuzz import common, mutate
from tests.hostile import craft


def harness():
    import tensorflow as tf

    import he_tf
    from he_tf import _core

    keys = common.load_keys()
    context = _core.load_public_context(keys.public.serialize())
    spec = tf.type_spec_from_value(he_tf.encrypt(keys.public, np.zeros(4)))

    def one_input(data: bytes) -> None:
        if common.refused(_core.load_ciphertext, context, data[craft.KEY_ID.size :]):
            return
        s = data + craft.crc32(data[craft.KEY_ID.size :])
        try:
            x = he_tf.deserialize(keys.public, tf.constant([s]), spec)
            he_tf.decrypt(keys.secret, x + 1.0).numpy()
        except (ValueError, tf.errors.InvalidArgumentError):
            pass

    return one_input, mutate.mutate_serialized


if __name__ == "__main__":
    common.main(harness)
