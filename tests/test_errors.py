"""Bad input gives a Python exception that says what is wrong; nothing aborts."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf

X = np.arange(6.0).reshape(2, 3)


def test_decrypt_with_another_keysets_secret_key(keys, other_keys):
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="secret key belongs to key set"):
        he_tf.decrypt(other_keys.secret, x_enc)


@pytest.mark.parametrize("mode", ["eager", "tf.function"])
def test_adding_ciphertexts_of_two_keysets(keys, other_keys, mode):
    a = he_tf.encrypt(keys.public, X)
    b = he_tf.encrypt(other_keys.public, X)
    add = (lambda p, q: p + q) if mode == "eager" else tf.function(lambda p, q: p + q)
    with pytest.raises(tf.errors.InvalidArgumentError, match="different KeySets cannot be combined"):
        add(a, b)


def test_non_ciphertext_variant(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    not_ciphertexts = tf.fill(x_enc.ciphertexts.shape, keys.public.tensor)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected he_tf ciphertexts.*PublicContext"):
        he_tf.decrypt(keys.secret, x_enc.with_ciphertexts(not_ciphertexts))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected he_tf ciphertexts"):
        x_enc + x_enc.with_ciphertexts(not_ciphertexts)


def test_context_input_must_be_a_context(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="input 'context' must hold he_tf.PublicContext"):
        he_tf.decrypt(keys.secret, x_enc.with_ciphertexts(x_enc.ciphertexts, context=keys.secret.tensor))


def test_corrupted_ciphertext_bytes(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    wire = tf.io.serialize_tensor(x_enc.ciphertexts).numpy()
    magic = b"\xa1\x10"  # SEAL's serialization header magic
    assert magic in wire
    corrupted = tf.io.parse_tensor(wire.replace(magic, b"\x00\x00"), out_type=tf.variant)
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot load the ciphertext"):
        he_tf.decrypt(keys.secret, x_enc.with_ciphertexts(corrupted))


@pytest.mark.parametrize("cut", [0, 8, 100, 5000, -1])
def test_corrupted_public_context(keys, cut):
    data = keys.public.serialize()
    with pytest.raises(ValueError, match="public context"):
        he_tf.PublicContext.deserialize(data[:cut])


def test_corrupted_key_material(keys):
    data = bytearray(keys.public.serialize())
    data[200:260] = b"\x00" * 60
    with pytest.raises(ValueError, match="cannot load the public key"):
        he_tf.PublicContext.deserialize(bytes(data))
    with pytest.raises(ValueError, match="secret key"):
        he_tf.SecretKey.deserialize(keys.public.serialize())


def test_values_too_large_or_not_finite(keys):
    with pytest.raises(tf.errors.InvalidArgumentError, match="too large to encrypt.*below 524288"):
        he_tf.encrypt(keys.public, [1.0, 1e7])
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        he_tf.encrypt(keys.public, [np.inf])


def test_wrong_argument_types(keys):
    with pytest.raises(TypeError, match="pass the secret key as secret="):
        he_tf.encrypt(keys.secret, X)
    with pytest.raises(TypeError, match="floating-point"):
        he_tf.encrypt(keys.public, np.arange(3))
    with pytest.raises(ValueError, match="layout"):
        he_tf.encrypt(keys.public, X, layout="diagonal")
    with pytest.raises(TypeError, match="SecretKey"):
        he_tf.decrypt(keys.public, he_tf.encrypt(keys.public, X))


def test_add_shape_and_layout_mismatch(keys):
    a = he_tf.encrypt(keys.public, X)
    with pytest.raises(ValueError, match="packed axes differ"):
        a + he_tf.encrypt(keys.public, X[:1])  # would broadcast along the packed axis
    with pytest.raises(ValueError, match="same layout"):
        a + he_tf.encrypt(keys.public, X, layout="vector")
    with pytest.raises(ValueError, match="do not broadcast"):
        a + np.ones((4,))
