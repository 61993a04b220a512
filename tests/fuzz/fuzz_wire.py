"""Fuzzes ``he_tf.models.wire.decode`` of a request under a valid public context, then a decryption.

Input: a wire message. Documented failure: ``ValueError`` (decode's contract; decrypting what it
returned must then work).

    python -m tests.fuzz.fuzz_wire tests/fuzz/corpus/fuzz_wire [libFuzzer flags]
"""

from __future__ import annotations

from tests.fuzz import common, mutate


def harness():
    import tensorflow as tf

    import he_tf
    from he_tf.models import wire

    keys = common.load_keys()

    def one_input(data: bytes) -> None:
        try:
            message = wire.decode(data, keys.public, expect="request")
        except ValueError:
            return
        try:
            he_tf.decrypt(keys.secret, message.tensor).numpy()
        except tf.errors.InvalidArgumentError as e:
            raise AssertionError(
                f"wire.decode accepted ciphertexts that do not decrypt: {e.message}"
            ) from None

    return one_input, mutate.mutate_wire


if __name__ == "__main__":
    common.main(harness)
