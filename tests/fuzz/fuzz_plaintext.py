"""Fuzzes an encoded plaintext's variant encoding: ``tf.io.parse_tensor``, then decoding it.

Input: one element's encoding (8-byte key-set id, SEAL's plaintext bytes), put into a serialized
variant tensor of ``he_tf.ops.encode`` plaintexts (how encoded weights travel in a saved graph).
Documented failures: ``ValueError``, ``tf.errors.InvalidArgumentError``.

    python -m tests.fuzz.fuzz_plaintext tests/fuzz/corpus/fuzz_plaintext [libFuzzer flags]
"""

from __future__ import annotations

import random

import numpy as np

from tests.fuzz import common, mutate
from tests.hostile import craft


def harness():
    import tensorflow as tf

    import he_tf
    from he_tf import _core, ops

    keys = common.load_keys()
    context = _core.load_public_context(keys.public.serialize())
    params = keys.public.params
    plains = ops.encode(keys.public.tensor, tf.zeros([1, params.slot_count], tf.float64),
                        tf.constant(float(2**params.scale_bits), tf.float64), level=params.depth)
    template = tf.io.serialize_tensor(plains).numpy()

    def one_input(data: bytes) -> None:
        if common.refused(_core.load_plaintext, context, data[craft.KEY_ID.size :]):
            return
        try:
            parsed = tf.ensure_shape(
                tf.io.parse_tensor(craft.with_variant_elements(template, [data]), tf.variant), plains.shape
            )
            ops.decode(keys.public.tensor, parsed, num_values=4).numpy()
        except (ValueError, tf.errors.InvalidArgumentError):
            pass

    return one_input, mutate_element


def mutate_element(data: bytes, rng: random.Random) -> bytes:
    return data[: craft.KEY_ID.size] + mutate.mutate_plaintext(data[craft.KEY_ID.size :], rng)


if __name__ == "__main__":
    common.main(harness)
