"""Ciphertexts and contexts survive serialization."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf


def test_ciphertexts_survive_serialize_parse_tensor(keys):
    x = np.random.default_rng(0).normal(size=(5, 3))
    x_enc = he_tf.encrypt(keys.public, x)
    wire = tf.io.serialize_tensor(x_enc.ciphertexts)
    parsed = tf.io.parse_tensor(wire, out_type=tf.variant)
    restored = x_enc.with_ciphertexts(parsed)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, restored).numpy(), x, rtol=1e-6, atol=1e-7)
    # and they stay usable in further ops
    np.testing.assert_allclose(
        he_tf.decrypt(keys.secret, restored + x_enc).numpy(), 2 * x, rtol=1e-6, atol=1e-7
    )


def test_serialize_parse_inside_tf_function(keys):
    x = np.arange(6.0).reshape(2, 3)
    x_enc = he_tf.encrypt(keys.public, x)

    @tf.function
    def roundtrip(cts):
        return tf.io.parse_tensor(tf.io.serialize_tensor(cts), out_type=tf.variant)

    restored = x_enc.with_ciphertexts(tf.ensure_shape(roundtrip(x_enc.ciphertexts), x_enc.ciphertexts.shape))
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, restored).numpy(), x, rtol=1e-6, atol=1e-7)


def test_public_context_roundtrip(keys):
    data = keys.public.serialize()
    restored = he_tf.PublicContext.deserialize(data)
    assert restored.serialize() == data
    assert restored.key_id == keys.public.key_id
    assert restored.params == keys.public.params
    # A context restored elsewhere (a server) encrypts for the same secret key.
    x = np.linspace(-3, 3, 11)
    encrypted_there = he_tf.encrypt(restored, x)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, encrypted_there + he_tf.encrypt(keys.public, x)).numpy(),
                               2 * x, rtol=1e-6, atol=1e-7)


def test_secret_key_roundtrip(keys):
    restored = he_tf.SecretKey.deserialize(keys.secret.serialize())
    x = np.array([1.5, -2.5])
    np.testing.assert_allclose(he_tf.decrypt(restored, he_tf.encrypt(keys.public, x)).numpy(), x, atol=1e-7)


def test_public_context_tensor_encodes_and_decodes(keys):
    wire = tf.io.serialize_tensor(keys.public.tensor)
    parsed = tf.io.parse_tensor(wire, out_type=tf.variant)
    x = np.array([4.0, 5.0])
    x_enc = he_tf.encrypt(keys.public, x)
    rebuilt = x_enc.with_ciphertexts(x_enc.ciphertexts, context=parsed)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, rebuilt + rebuilt).numpy(), 2 * x, atol=1e-7)


def test_secret_key_never_serializes(keys):
    wire = tf.io.serialize_tensor(keys.secret.tensor).numpy()
    assert keys.secret.serialize()[-64:] not in wire
    try:
        tf.io.parse_tensor(wire, out_type=tf.variant)
    except tf.errors.InvalidArgumentError:
        pass
    else:
        raise AssertionError("a serialized secret-key tensor must not decode")


def test_plaintext_encode_decode_and_serialize(keys):
    from he_tf import ops

    values = np.random.default_rng(3).uniform(-5, 5, size=(4, 10))
    for level in (2, 0):
        plains = ops.encode(keys.public.tensor, values, tf.constant(2.0**30, tf.float64), level=level)
        assert plains.shape == (4,)
        np.testing.assert_allclose(ops.decode(keys.public.tensor, plains, num_values=10).numpy(), values, atol=1e-7)
        parsed = tf.io.parse_tensor(tf.io.serialize_tensor(plains), tf.variant)
        np.testing.assert_allclose(ops.decode(keys.public.tensor, parsed, num_values=10).numpy(), values, atol=1e-7)
    with pytest.raises(tf.errors.InvalidArgumentError, match="level 5 does not exist"):
        ops.encode(keys.public.tensor, values, tf.constant(2.0**30, tf.float64), level=5)


def test_any_corrupted_span_of_a_serialized_ciphertext_is_refused(keys):
    # zstd frames carry no checksum of their own: the trailing CRC-32 catches what decompresses cleanly.
    x = he_tf.encrypt(keys.public, np.linspace(-1, 1, 64))
    good = he_tf.serialize(x).numpy().ravel()[0]
    for start in range(8, len(good) - 64, len(good) // 17):
        bad = good[:start] + bytes(64) + good[start + 64:]
        if bad == good:
            continue
        with pytest.raises(tf.errors.InvalidArgumentError, match="corrupted|truncated|cannot|invalid"):
            he_tf.deserialize(keys.public, tf.constant([bad]), tf.type_spec_from_value(x))
