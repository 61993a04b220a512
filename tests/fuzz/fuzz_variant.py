"""Fuzzes a ciphertext's variant encoding: ``tf.io.parse_tensor``, then its first uses (x + 1.0,
``tf.math.polyval``, decrypt).

Input: one element's encoding (8-byte key-set id, SEAL's bytes), put into a serialized variant tensor.
Documented failures: ``ValueError``, ``tf.errors.InvalidArgumentError``.

    python -m tests.fuzz.fuzz_variant tests/fuzz/corpus/fuzz_variant [libFuzzer flags]
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
    x = he_tf.encrypt(keys.public, np.zeros(4))
    template = tf.io.serialize_tensor(x.ciphertexts).numpy()
    can_polyval = x.level >= 1

    def one_input(data: bytes) -> None:
        if common.refused(_core.load_ciphertext, context, data[craft.KEY_ID.size :]):
            return
        try:
            cts = tf.ensure_shape(
                tf.io.parse_tensor(craft.with_variant_elements(template, [data]), tf.variant),
                x.ciphertexts.shape,
            )
            y = x.with_ciphertexts(cts)
            he_tf.decrypt(keys.secret, y + 1.0).numpy()
            if can_polyval:
                he_tf.decrypt(keys.secret, tf.math.polyval([0.5, 1.0], y)).numpy()
        except (ValueError, tf.errors.InvalidArgumentError):
            pass

    return one_input, mutate.mutate_serialized


if __name__ == "__main__":
    common.main(harness)
