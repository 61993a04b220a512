"""Convolutional Keras models under CKKS: import, labels identical to plaintext, layer maps against Keras."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

import he_tf
import he_tf.models as hm
from he_tf.models import image_layers

# Keras computes in float32; the imported steps in float64. Differences stay at float32 rounding of the
# layers' sums (inputs and weights of order 1).
KERAS_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    images = (data.images / 16.0)[..., None].astype(np.float32)  # (1797, 8, 8, 1) in [0, 1]
    return images[:1400], data.target[:1400], images[1400:], data.target[1400:]


@pytest.fixture(scope="module")
def digits_cnn(digits):
    """Conv2D with a square activation, AveragePooling2D, Flatten, Dense: trained a few epochs, seeded."""
    x_train, y_train, _, _ = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation=tf.math.square, name="conv"),
        keras.layers.AveragePooling2D(2, name="pool"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax", name="classes"),
    ], name="digits_cnn")
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    return model


def test_digits_cnn_batch_layout_labels_identical_to_plaintext(digits, digits_cnn):
    x_train, _, x_test, y_test = digits
    model = hm.from_keras(digits_cnn, data=x_train)
    assert model.input_shape == (8, 8, 1) and model.depth == 3  # conv, square, pooling + dense folded
    keras_probs = digits_cnn.predict(x_test, verbose=0)
    assert np.mean(keras_probs.argmax(1) == y_test) > 0.85  # the network learned something

    requirements = hm.KeyRequirements.from_json(model.key_requirements().to_json())
    assert requirements.input_shape == (8, 8, 1) and requirements.rotations is None  # batch: no rotations
    client = hm.Client.generate(requirements)
    server = hm.Server(client.public_context, model)
    prediction = client.decrypt(server.handle(client.encrypt(x_test)))  # one image per slot
    np.testing.assert_allclose(prediction.outputs, keras_probs, atol=KERAS_TOLERANCE)
    np.testing.assert_array_equal(prediction.labels(), keras_probs.argmax(1))


def test_digits_cnn_vector_layout_one_image(digits, digits_cnn):
    x_train, _, x_test, _ = digits
    model = hm.from_keras(digits_cnn, data=x_train, layout="vector")
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.public_context, model)
    image = x_test[:1]
    prediction = client.decrypt(server.handle(client.encrypt(image)))  # one image packed in the slots
    keras_probs = digits_cnn.predict(image, verbose=0)
    np.testing.assert_allclose(prediction.outputs, keras_probs, atol=KERAS_TOLERANCE)
    np.testing.assert_array_equal(prediction.labels(), keras_probs.argmax(1))


def test_client_refuses_samples_of_another_shape(digits, digits_cnn):
    x_train, _, x_test, _ = digits
    model = hm.from_keras(digits_cnn, data=x_train)
    client = hm.Client.generate(model.key_requirements())
    for bad in (x_test[:4, :, :, 0], x_test[:4].reshape(4, 64), x_test[:4].transpose(0, 3, 1, 2)):
        with pytest.raises(ValueError, match=r"samples of shape \(8, 8, 1\).*\(samples, 8, 8, 1\)"):
            client.encrypt(bad)
    outside = x_test[:2].copy()
    outside[1, 3, 4, 0] = 1e6
    with pytest.raises(ValueError, match=r"value \(3, 4, 0\) of sample 1 is 1000000\.0"):
        client.encrypt(outside)


def test_saved_model_keeps_the_input_shape(tmp_path, digits, digits_cnn):
    model = hm.from_keras(digits_cnn, data=digits[0])
    model.save(tmp_path / "cnn", samples=4)
    assert json.loads((tmp_path / "cnn" / "he_tf_model.json").read_text())["input_shape"] == [8, 8, 1]
    loaded = hm.load(tmp_path / "cnn")
    assert loaded.input_shape == (8, 8, 1)
    assert loaded.key_requirements().input_shape == (8, 8, 1)
    metadata_file = tmp_path / "cnn" / "he_tf_model.json"
    metadata = json.loads(metadata_file.read_text())
    for bad in ([8, 8, 2], "8x8", [-64, -1], {"h": 8}):
        metadata["input_shape"] = bad
        metadata_file.write_text(json.dumps(metadata))
        with pytest.raises(hm.ModelFormatError, match="input_shape"):
            hm.load(tmp_path / "cnn")


@pytest.mark.parametrize("shape", [[8, 8, 2], [0, 64], [64] * 9, "8x8", [8.0, 8, 1]])
def test_key_requirements_refuse_bad_input_shapes(digits, digits_cnn, shape):
    document = json.loads(hm.from_keras(digits_cnn, data=digits[0]).key_requirements().to_json())
    document["input_shape"] = shape
    with pytest.raises(ValueError, match="malformed key requirements: input_shape"):
        hm.KeyRequirements.from_json(json.dumps(document).encode())


def _randomize(model: keras.Model, seed: int) -> None:
    """Random weights everywhere; BatchNormalization gets random statistics too (positive variances)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = (w.shape for w in layer.get_weights())
            layer.set_weights([rng.uniform(0.5, 1.5, gamma), rng.normal(0, 0.3, beta), rng.normal(0, 0.3, mean),
                               rng.uniform(0.5, 2.0, variance)])
        else:
            layer.set_weights([rng.normal(0, 0.4, w.shape) for w in layer.get_weights()])


@pytest.mark.parametrize("layers", [
    # same padding with strides, BatchNormalization folded into the convolution, same-padded pooling
    lambda: [keras.layers.Conv2D(3, 3, strides=2, padding="same"), keras.layers.BatchNormalization(),
             keras.layers.Activation(tf.math.square), keras.layers.AveragePooling2D(2, padding="same"),
             keras.layers.Flatten(), keras.layers.Dense(4)],
    # uneven strides and kernel, valid padding, no bias, a second convolution, global pooling
    lambda: [keras.layers.Conv2D(4, (3, 2), strides=(1, 2), use_bias=False), keras.layers.BatchNormalization(),
             keras.layers.Conv2D(2, 2, padding="same", activation=tf.math.square),
             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)],
    # zero padding (uneven), as CryptoNets pads 28x28 to 29x29 before its strided convolution
    lambda: [keras.layers.ZeroPadding2D(((1, 0), (2, 1))), keras.layers.Conv2D(2, 5, strides=2),
             keras.layers.Activation(tf.math.square), keras.layers.Flatten(), keras.layers.Dense(3)],
    # Reshape, a Dense on every position, pooling with strides other than its size, polynomial activation
    lambda: [keras.layers.Reshape((7, 9, 2)), keras.layers.Dense(3),
             keras.layers.Activation(hm.PolynomialActivation([0.1, 0.5, 0.2])),
             keras.layers.AveragePooling2D(3, strides=2), keras.layers.Flatten(), keras.layers.Dense(2)],
])
def test_layers_match_keras_on_random_weights(layers):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((7, 9, 2)), *layers()])
    _randomize(model, seed=2)
    x = np.random.default_rng(3).uniform(-1, 1, (16, 7, 9, 2)).astype(np.float32)
    encrypted_model = hm.from_keras(model, layout="vector")
    # Every affine run (padding, convolutions, batch normalization, pooling, dense) folds into one step.
    assert [type(step).__name__ for step in encrypted_model.steps][::2] == ["Dense", "Dense"]
    assert len(encrypted_model.steps) == 3
    np.testing.assert_allclose(encrypted_model.predict_plain(x), model.predict(x, verbose=0),
                               atol=KERAS_TOLERANCE, rtol=KERAS_TOLERANCE)


def test_same_padding_strides_and_batch_norm_encrypted(keys):
    """The first case of the comparison above, also encrypted (vector layout, one sample)."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((7, 9, 2)), keras.layers.Conv2D(3, 3, strides=2, padding="same"),
        keras.layers.BatchNormalization(), keras.layers.Activation(tf.math.square),
        keras.layers.AveragePooling2D(2, padding="same"), keras.layers.Flatten(), keras.layers.Dense(4)])
    _randomize(model, seed=2)
    x = np.random.default_rng(3).uniform(-1, 1, (1, 7, 9, 2)).astype(np.float32)
    encrypted_model = hm.from_keras(model, layout="vector", feature_range=(-1, 1))
    client = hm.Client.generate(encrypted_model.key_requirements())
    server = hm.Server(client.public_context, encrypted_model)
    outputs = client.decrypt(server.handle(client.encrypt(x))).outputs
    np.testing.assert_allclose(outputs, model.predict(x, verbose=0), atol=KERAS_TOLERANCE, rtol=KERAS_TOLERANCE)


def test_convolution_matrix_is_sparse():
    """A 3x3 convolution touches 9 pixels per output: the matrix holds exactly the kernel's taps."""
    kernel = np.arange(1, 9 * 2 * 5 + 1, dtype=np.float64).reshape(3, 3, 2, 5)
    matrix, shape = image_layers.conv2d(kernel, (8, 8, 2), (1, 1), "valid")
    assert shape == (6, 6, 5) and matrix.shape == (128, 180)
    assert np.count_nonzero(matrix) == 36 * kernel.size


def test_zero_weights_are_skipped_exactly(keys):
    """Over a non-packed axis the kernel skips zero weights (a convolution costs its non-zeros, measured in
    benchmarks/cryptonets.py); an all-zero column still gives an encryption of zero at the result's level."""
    values = np.random.default_rng(0).normal(size=(4, 12))
    x = he_tf.encrypt(keys.public, values, layout="batch")  # 12 ciphertexts, 4 slots used
    sparse = np.zeros((12, 3))
    sparse[[0, 5, 11], [0, 0, 2]] = [1.5, -2.0, 0.25]  # column 1 all zero
    dense = sparse + 1e-300  # rounds to 0 at any scale: the same product, a multiply-and-add per entry
    a, b = x @ sparse, x @ dense
    assert a.level == b.level == x.level - 1 and a.scale == b.scale
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, a).numpy(), values @ sparse, atol=1e-6)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, a).numpy(), he_tf.decrypt(keys.secret, b).numpy(),
                               atol=1e-6)
    assert np.all(he_tf.decrypt(keys.secret, a).numpy()[:, 1] == pytest.approx(0, abs=1e-6))


@pytest.mark.parametrize("layers, match", [
    (lambda: [keras.layers.Conv2D(2, 3, activation="relu", name="c")],
     r"layer 'c' \(Conv2D\) uses activation 'relu'.*mode='hybrid'.*AveragePooling2D"),
    (lambda: [keras.layers.Conv2D(2, 3), keras.layers.ReLU(name="r")],
     r"layer 'r' \(ReLU\) is not a polynomial.*mode='hybrid'.*tf.math.square.*AveragePooling2D"),
    (lambda: [keras.layers.Conv2D(2, 3), keras.layers.MaxPooling2D(name="mp")],
     r"layer 'mp' \(MaxPooling2D\) takes a maximum.*mode='hybrid'.*AveragePooling2D in place of max pooling"),
    (lambda: [keras.layers.Conv2D(2, 3), keras.layers.GlobalMaxPooling2D(name="gmp")],
     r"layer 'gmp' \(GlobalMaxPooling2D\) takes a maximum"),
    (lambda: [keras.layers.Conv2D(2, 3, dilation_rate=2, name="d")],
     r"layer 'd' \(Conv2D\) has dilation_rate=\(2, 2\).*dilation_rate=1 and groups=1"),
    (lambda: [keras.layers.Conv2D(4, 3, groups=2, name="g")], r"layer 'g' \(Conv2D\).*groups=2"),
    (lambda: [keras.layers.DepthwiseConv2D(3, name="dw")], r"layer 'dw' \(DepthwiseConv2D\) cannot run"),
    (lambda: [keras.layers.Conv2D(2, 3), keras.layers.AveragePooling2D(2, data_format="channels_first", name="cf")],
     r"layer 'cf' \(AveragePooling2D\) uses data_format='channels_first'.*channels_last"),
])
def test_layers_the_encrypted_path_cannot_run(layers, match):
    model = keras.Sequential([keras.Input((8, 8, 2)), *layers(), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=match):
        hm.from_keras(model)


def test_channels_first_convolution_is_refused():
    layer = keras.layers.Conv2D(2, 3, data_format="channels_first", name="cf")
    model = keras.Sequential([keras.Input((2, 8, 8)), layer, keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"layer 'cf' \(Conv2D\) uses data_format='channels_first'"):
        hm.from_keras(model)
