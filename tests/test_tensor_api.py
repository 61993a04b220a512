"""HETensor in TensorFlow plumbing: serialization, tf.function signatures, nest, while_loop."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf

ATOL = 1e-6
X = np.random.default_rng(7).uniform(-10, 10, size=(5, 3))


def test_string_serialization_roundtrip(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    strings = he_tf.serialize(x_enc)
    assert strings.dtype == tf.string and strings.shape == x_enc.ciphertexts.shape
    server_context = he_tf.PublicContext.deserialize(keys.public.serialize())
    restored = he_tf.deserialize(server_context, strings, tf.type_spec_from_value(x_enc))
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, restored).numpy(), X, atol=ATOL)


def test_deserialize_checks_key_set_and_shape(keys, other_keys):
    x_enc = he_tf.encrypt(keys.public, X)
    spec = tf.type_spec_from_value(x_enc)
    with pytest.raises(tf.errors.InvalidArgumentError, match="another key set"):
        he_tf.deserialize(other_keys.public, he_tf.serialize(x_enc), spec)
    with pytest.raises(ValueError, match="serialized ciphertexts"):
        he_tf.deserialize(keys.public, tf.constant(["x"]), spec)


def test_secret_key_encryption_is_half_the_size(keys):
    public_enc = he_tf.encrypt(keys.public, X)
    secret_enc = he_tf.encrypt(keys.public, X, secret=keys.secret)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, secret_enc).numpy(), X, atol=ATOL)
    for size in (lambda v: len(tf.io.serialize_tensor(v.ciphertexts).numpy()),
                 lambda v: sum(len(s) for s in he_tf.serialize(v).numpy().ravel())):
        assert size(secret_enc) < 0.6 * size(public_enc)
    # still seeded after crossing a serialize/parse boundary, and usable
    wire = tf.io.serialize_tensor(secret_enc.ciphertexts)
    parsed = secret_enc.with_ciphertexts(tf.io.parse_tensor(wire, tf.variant))
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, parsed + public_enc).numpy(), 2 * X, atol=ATOL)


def test_input_signature_from_type_spec(keys):
    x_enc = he_tf.encrypt(keys.public, X, layout="vector")
    double = tf.function(lambda v: v * 2.0 + v, input_signature=[tf.type_spec_from_value(x_enc)])
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, double(x_enc)).numpy(), 3 * X, atol=ATOL)
    assert len(double.get_concrete_function().structured_outputs.ciphertexts.shape) == 2


def test_nest_and_while_loop(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    doubled = tf.nest.map_structure(lambda v: v + v, {"a": x_enc, "b": [x_enc]})
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, doubled["b"][0]).numpy(), 2 * X, atol=ATOL)

    @tf.function
    def accumulate(v):
        return tf.while_loop(lambda i, acc: i < 4, lambda i, acc: (i + 1, acc + v), [tf.constant(0), v])[1]

    np.testing.assert_allclose(he_tf.decrypt(keys.secret, accumulate(x_enc)).numpy(), 5 * X, atol=ATOL)


def test_levels_and_scales_are_tracked(keys):
    x_enc = he_tf.encrypt(keys.public, X)
    assert x_enc.level == 2
    product = x_enc * x_enc
    assert product.level == 1 and product.scale != x_enc.scale  # 2^80 / q2
    mixed = product + x_enc  # aligned automatically
    assert mixed.level == 1 and mixed.scale == product.scale
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, mixed).numpy(), X * X + X, atol=1e-5)
    plain_product = x_enc * 3.0
    assert plain_product.level == 1 and plain_product.scale == x_enc.scale  # exact: constants encoded at q
