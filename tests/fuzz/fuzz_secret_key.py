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
        if common.refused(_core.load_secret_key, data):
            return
        try:
            secret = he_tf.SecretKey.deserialize(data)
            he_tf.decrypt(secret, x).numpy()
        except (ValueError, tf.errors.InvalidArgumentError):
            pass

    return one_input, mutate.mutate_container


if __name__ == "__main__":
    common.main(harness)
