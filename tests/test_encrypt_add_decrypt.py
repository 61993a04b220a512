"""encrypt -> add -> decrypt against NumPy, eagerly and inside tf.function."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf

# Fresh CKKS ciphertexts at scale 2^40 decrypt with ~1e-8 absolute error.
RTOL, ATOL = 1e-6, 1e-7

SHAPES = [(), (7,), (3, 5), (4099,)]  # 4099 > 4096 slots: spans two ciphertexts


def _values(shape, dtype, seed):
    return np.random.default_rng(seed).uniform(-10, 10, size=shape).astype(dtype)


@pytest.mark.parametrize("layout", ["batch", "vector"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["eager", "tf.function"])
def test_add_matches_numpy(keys, shape, dtype, layout, mode):
    x, y = _values(shape, dtype, 1), _values(shape, dtype, 2)

    def run(x, y):
        x_enc = he_tf.encrypt(keys.public, x, layout=layout)
        y_enc = he_tf.encrypt(keys.public, y, layout=layout)
        return he_tf.decrypt(keys.secret, x_enc + y_enc)

    if mode == "tf.function":
        run = tf.function(run)
    result = run(tf.constant(x), tf.constant(y))

    assert result.dtype == tf.as_dtype(dtype)
    assert result.shape == shape
    expected = x.astype(np.float64) + y.astype(np.float64)
    np.testing.assert_allclose(result.numpy().astype(np.float64), expected, rtol=RTOL, atol=ATOL)


def test_hetensor_passes_through_tf_function(keys):
    x = _values((4, 3), np.float64, 3)
    x_enc = he_tf.encrypt(keys.public, x)
    doubled = tf.function(lambda a: a + a)(x_enc)
    assert isinstance(doubled, he_tf.HETensor)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, doubled).numpy(), 2 * x, rtol=RTOL, atol=ATOL)


def test_hetensor_metadata_and_repr(keys):
    x_enc = he_tf.encrypt(keys.public, np.zeros((3, 5), np.float32))
    assert x_enc.shape == (3, 5)
    assert x_enc.dtype == tf.float32
    assert x_enc.layout == "batch"
    assert x_enc.level == keys.public.params.depth == 2
    assert x_enc.scale == 2.0**40
    assert x_enc.ciphertexts.shape == (1, 5)  # axis 0 packed into slots
    assert repr(x_enc) == "HETensor(shape=(3, 5), dtype=float32, layout='batch', level=2, scale=2^40)"
    vector = he_tf.encrypt(keys.public, np.zeros((3, 5)), layout="vector")
    assert vector.ciphertexts.shape == (3, 1)  # last axis packed


def test_encrypted_values_are_hidden(keys):
    x = np.full((8,), 3.0)
    x_enc = he_tf.encrypt(keys.public, x)
    raw = tf.io.serialize_tensor(x_enc.ciphertexts).numpy()
    assert x.tobytes() not in raw
    # Encryption is randomized: the same values never give the same ciphertext.
    again = tf.io.serialize_tensor(he_tf.encrypt(keys.public, x).ciphertexts).numpy()
    assert raw != again
