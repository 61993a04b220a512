"""Fuzzes ``PublicContext.deserialize``, then a use of every key it holds (encrypt, multiply and
relinearize, rotate).

Input: a serialized public context. Documented failure: ``ValueError`` (and, from the ops on a
context that loaded, ``tf.errors.InvalidArgumentError``).

    python -m tests.fuzz.fuzz_public_context tests/fuzz/corpus/fuzz_public_context [libFuzzer flags]
"""

from __future__ import annotations

import numpy as np

from tests.fuzz import common, mutate

X = np.linspace(-1.0, 1.0, 4)


def harness():
    import tensorflow as tf

    import he_tf
    from he_tf import _core

    def one_input(data: bytes) -> None:
        if common.refused(_core.load_public_context, data):
            return
        try:
            public = he_tf.PublicContext.deserialize(data)
        except ValueError:
            return
        try:
            x = he_tf.encrypt(public, X[:, None])  # batch layout: rolls along axis 1 rotate nothing
            y = x * x if public.params.depth >= 1 else x
            tf.roll(he_tf.encrypt(public, X, layout="vector"), 1, axis=0)
            he_tf.serialize(y).numpy()
        except (ValueError, tf.errors.InvalidArgumentError):
            pass

    return one_input, mutate.mutate_container


if __name__ == "__main__":
    common.main(harness)
