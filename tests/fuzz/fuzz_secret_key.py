"""Fuzzes ``SecretKey.deserialize``, then a decryption with the key it loaded.

Input: a serialized secret key. Documented failure: ``ValueError`` (and, from decrypt,
``tf.errors.InvalidArgumentError``).

    python -m tests.fuzz.fuzz_secret_key tests/fuzz/corpus/fuzz_secret_key [libFuzzer flags]
"""

from __future__ import annotations

import numpy as np

from tests.fuzz import common, mutate


def harness():
    import tensorflow as tf

    import he_tf
    from he_tf import _core

    keys = common.load_keys()
    x = he_tf.encrypt(keys.public, np.zeros(4))

    def one_input(data: bytes) -> None:
        # The loader every adapter calls, without TensorFlow's per-call cost: refused bytes stop here (the op
        # would refuse the same bytes through the same code), accepted ones go on through the public API.
        try:
            _core.load_secret_key(data)
        except ValueError:
            return
        try:
            secret = he_tf.SecretKey.deserialize(data)
            he_tf.decrypt(secret, x).numpy()
        except (ValueError, tf.errors.InvalidArgumentError):
            pass

    return one_input, mutate.mutate_container


if __name__ == "__main__":
    common.main(harness)
