"""Unmodified ReLU networks in hybrid mode: affine runs under CKKS, ReLU and max pooling on secret shares.

Keras models trained briefly (seeds fixed) on scikit-learn's digits and breast cancer; the labels the
client receives must be the plaintext model's, and the transcript must show who saw what.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import he_tf
import he_tf.models as hm
from he_tf.models.share_steps import MaxPool2D, Relu
from he_tf.models.steps import Dense

TEST_IMAGES = 64


@pytest.fixture(autouse=True)
def players():
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0)[..., None]
    return images[:1400], data.target[:1400], images[1400:1400 + TEST_IMAGES]


@pytest.fixture(scope="module")
def relu_cnn(digits):
    x_train, y_train, _ = digits
    keras.utils.set_random_seed(0)
    net = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),  # 6x6x4
        keras.layers.MaxPooling2D(2, name="pool"),                   # 3x3x4
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    net.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    net.fit(x_train, y_train, epochs=4, batch_size=64, verbose=0)
    return net


def test_relu_cnn_labels_equal_plaintext_and_transcript(digits, relu_cnn):
    _, _, x_test = digits
    model = hm.from_keras(relu_cnn, mode="hybrid", output="label")
    assert [where for where, _ in model.segments] == ["ckks", "shares", "ckks"]
    assert model.params == he_tf.Params.for_depth(2)  # one level per affine run, one for the mask's headroom
    assert isinstance(model.segments[1][1][0], MaxPool2D) and isinstance(model.segments[1][1][1], Relu)
    keras_logits = relu_cnn.predict(x_test, verbose=0)
    # The imported steps are the Keras model (float32 vs float64).
    plain = model.logits_plain(x_test)
    np.testing.assert_allclose(tf.nn.softmax(plain).numpy(), keras_logits, atol=1e-4)
    with he_tf.protocol.recording() as transcript:
        labels = model.run(x_test)
    assert labels.dtype == np.int64 and labels.shape == (TEST_IMAGES,)
    np.testing.assert_array_equal(labels, keras_logits.argmax(1))

    # The server: the client's data only as ciphertexts and masked values (and the public context),
    # nothing in the clear.
    from_client = {e.kind for e in transcript.received_by("server") if e.sender == "client"}
    assert from_client <= {"ciphertext", "masked", "public_context"} and "ciphertext" in from_client
    assert "plaintext" not in transcript.kinds_received("server")
    assert not [e for e in transcript if e.kind == "secret_key" and e.receiver != "client"]
    # The dealer: shapes and its own randomness only.
    assert transcript.kinds_received("dealer") <= {"shape", "share", "seed"}
    assert not [e for e in transcript.received_by("dealer") if e.sender not in (None, "dealer")
                and e.kind != "shape"]
    # The client: masked values and shares from the server (no weights, no plaintext), and the output
    # as the server's share of the labels only.
    from_server = [e for e in transcript.received_by("client") if e.sender == "server"]
    assert {e.kind for e in from_server} <= {"masked", "share"}
    assert [e.label for e in from_server if e.kind == "share"] == [
        e.label for e in from_server if e.kind == "share" and e.label.startswith("output")]
    assert len([e for e in from_server if e.kind == "share"]) == 1
    assert [e.origin for e in transcript.received_by("client") if e.kind == "plaintext"] == ["client"]


def test_relu_cnn_logits_close_to_plaintext(digits, relu_cnn):
    _, _, x_test = digits
    model = hm.from_keras(relu_cnn, mode="hybrid")  # output="logits"
    logits = model.run(x_test[:16])
    expected = model.logits_plain(x_test[:16])
    np.testing.assert_allclose(logits, expected, atol=1e-2)  # 16 fraction bits, CKKS noise ~2^-20
    np.testing.assert_array_equal(model.predict_plain(x_test[:16]), expected.argmax(1))


def test_relu_mlp_breast_cancer_labels_equal_plaintext():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, _ = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    keras.utils.set_random_seed(0)
    net = keras.Sequential([
        keras.Input((30,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(8),
        keras.layers.ReLU(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    net.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    net.fit(scaler.transform(x_train), y_train, epochs=20, batch_size=32, verbose=0)
    features = scaler.transform(x_test)
    model = hm.from_keras(net, mode="hybrid", output="label")
    assert [where for where, _ in model.segments] == ["ckks", "shares", "ckks", "shares", "ckks"]
    labels = model.run(features)
    expected = (net.predict(features, verbose=0)[:, 0] > 0.5).astype(np.int64)
    np.testing.assert_array_equal(labels, expected)


def test_relu_commutes_with_pooling_and_crop():
    """A 7x7 image under 2x2 pooling: the crop (a selection) and the pooling move before the ReLU and the
    crop merges into the convolution; the result is the Keras model's."""
    keras.utils.set_random_seed(1)
    net = keras.Sequential([
        keras.Input((7, 7, 2)),
        keras.layers.Conv2D(3, 1, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(2),
    ])
    model = hm.from_keras(net, mode="hybrid")
    kinds = [type(step).__name__ for step in model.steps]
    assert kinds == ["Dense", "MaxPool2D", "MaxPool2D", "Relu", "Dense"]
    assert model.steps[0].outputs == 6 * 6 * 3
    x = np.random.default_rng(0).normal(size=(5, 7, 7, 2))
    np.testing.assert_allclose(model.logits_plain(x), net.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(model.run(x), net.predict(x, verbose=0), atol=1e-2)


@pytest.mark.parametrize("layers, message", [
    (lambda: [keras.layers.Conv2D(2, 3), keras.layers.MaxPooling2D(2, strides=1, name="mp")],
     r"layer 'mp' \(MaxPooling2D\) has pool_size=\(2, 2\), strides=\(1, 1\).*strides equal to pool_size"),
    (lambda: [keras.layers.Conv2D(2, 3), keras.layers.LeakyReLU(name="leaky")],
     r"layer 'leaky' \(LeakyReLU\) cannot run in hybrid mode.*ReLU"),
    (lambda: [keras.layers.Conv2D(2, 3), keras.layers.ReLU(max_value=6.0, name="relu6")],
     r"layer 'relu6' \(ReLU\) has max_value=6.0.*plain ReLU"),
    (lambda: [keras.layers.Conv2D(2, 3, activation="tanh", name="c")],
     r"layer 'c' \(Conv2D\) uses activation 'tanh'; hybrid mode runs 'relu'"),
    (lambda: [keras.layers.Conv2DTranspose(2, 3, name="t")],
     r"layer 't' \(Conv2DTranspose\) cannot run on encrypted inputs.*ReLU"),
])
def test_hybrid_refusals_name_the_layer(layers, message):
    net = keras.Sequential([keras.Input((8, 8, 1)), *layers(), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=message):
        hm.from_keras(net, mode="hybrid")


def test_ckks_mode_refuses_relu_and_suggests_hybrid():
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="hidden"),
                            keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"layer 'hidden' \(Dense\) uses activation 'relu'.*mode='hybrid'"):
        hm.from_keras(net)
    with pytest.raises(ValueError, match="mode must be one of"):
        hm.from_keras(net, mode="mpc")
    with pytest.raises(ValueError, match="output='logits' or 'label'"):
        hm.from_keras(net, mode="hybrid", output="polynomial")
    with pytest.raises(ValueError, match="feature_range apply to mode='ckks' only"):
        hm.from_keras(net, mode="hybrid", feature_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="no label"):
        hm.from_keras(net, mode="hybrid", output="label")


def test_hybrid_input_checked():
    model = hm.HybridModel([Dense(np.eye(3), np.zeros(3)), Relu(), Dense(np.ones((3, 2)), np.zeros(2))],
                           "softmax", input_shape=(3,))
    with pytest.raises(ValueError, match="takes 3 features per sample"):
        model.run(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.run(np.full((2, 3), np.nan))
    x = np.array([[1.0, -5.0, 2.0], [0.5, 0.5, -3.0]])
    assert model.conversion_magnitudes(x) == [("Dense(3 -> 3)", 5.0), ("Dense(3 -> 2)", 3.0)]
    ckks, shares = model.protocols()
    with pytest.raises(TypeError, match="evaluate takes an HETensor"):
        model.evaluate(np.zeros((2, 3)), ckks, shares)
    with pytest.raises(ValueError, match="does not tile images of 7x6"):
        MaxPool2D((7, 6, 1), (2, 2))
    with pytest.raises(ValueError, match="takes input_shape"):
        MaxPool2D((4, 4), (2, 2))
    vector = he_tf.protocol.CKKS(key_owner="client", evaluator="server", params=model.params, rotations=None,
                                 layout="vector")
    with vector:
        x_enc = he_tf.define_private_input("client", lambda: np.zeros((2, 3)))
    with pytest.raises(ValueError, match="runs in batch layout"):
        model.evaluate(x_enc, vector, shares)
    with pytest.raises(ValueError, match="takes 3 inputs but the step before gives 2"):
        hm.HybridModel([Dense(np.eye(2), np.zeros(2)), Relu(), Dense(np.ones((3, 2)), np.zeros(2))])


def test_benchmark_pure_sharing_variant_matches(digits, relu_cnn):
    """benchmarks/hybrid_networks.py's pure secret-sharing baseline computes the same labels."""
    from benchmarks.hybrid_networks import pure_sharing
    from he_tf.protocol import SecretSharing

    _, _, x_test = digits
    model = hm.from_keras(relu_cnn, mode="hybrid", output="label")
    shares = SecretSharing(players=("client", "server"), dealer="dealer", outputs=["client"])
    with he_tf.protocol.recording() as transcript:
        labels = pure_sharing(model, shares, x_test[:16])
    np.testing.assert_array_equal(labels, model.predict_plain(x_test[:16]))
    # The server's weights reach the client only as shares.
    assert {e.kind for e in transcript.received_by("client") if e.origin == "server"} <= {"share"}
