"""Encrypted inference (he_tf.models): accuracy against plaintext, both layouts, both output modes, errors.

Models get scikit-learn's weights loaded into Keras (fast and exactly
reproducible); the demo test covers Keras training.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import he_tf
import he_tf.models as hm
from he_tf.models import examples, rotations, wire
from he_tf.models.outputs import sigmoid


@pytest.fixture(scope="module")
def cancer():
    return examples.load("breast_cancer")


@pytest.fixture(scope="module")
def cancer_keras(cancer):
    return examples.keras_from_sklearn(cancer)


def keras_outputs(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0), dtype=np.float64)


def serve(model: hm.EncryptedModel, x: np.ndarray) -> hm.Prediction:
    """One request through a fresh client and a server that only gets the public context's bytes."""
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.send_public_context(), model)
    return client.decrypt(server.handle(client.encrypt(x)))


@pytest.mark.parametrize("layout", ["batch", "vector"])
def test_breast_cancer_logits_match_plaintext(cancer, cancer_keras, layout):
    model = hm.from_keras(cancer_keras, layout=layout)
    assert model.depth == 1 and model.output == "logits"
    plain = keras_outputs(cancer_keras, cancer.x_test)
    logits = model.logits_plain(cancer.x_test)
    np.testing.assert_allclose(sigmoid(logits), plain, atol=1e-5)  # the conversion computes what Keras does

    prediction = serve(model, cancer.x_test)
    assert prediction.raw.shape == (len(cancer.x_test), 1)
    np.testing.assert_array_equal(prediction.labels(), (plain[:, 0] > 0.5).astype(int))
    assert np.max(np.abs(prediction.raw - logits)) <= 1e-3
    np.testing.assert_allclose(prediction.outputs, sigmoid(prediction.raw))


def test_breast_cancer_polynomial_accuracy_within_one_point(cancer, cancer_keras):
    model = hm.from_keras(cancer_keras, output="polynomial", data=cancer.x_train, degree=3)
    assert model.depth == 1 + 3 and model.params.depth == 4
    assert model.params.precision_bits() >= hm.model.PRECISION_BITS  # the compiler's choice for the data
    low, high = model.input_range
    assert low == -high and high >= np.max(np.abs(model.logits_plain(cancer.x_train)))
    prediction = serve(model, cancer.x_test)
    np.testing.assert_allclose(prediction.raw, model.predict_plain(cancer.x_test), atol=1e-4)
    plain_accuracy = np.mean((keras_outputs(cancer_keras, cancer.x_test)[:, 0] > 0.5) == cancer.y_test)
    encrypted_accuracy = np.mean(prediction.labels() == cancer.y_test)
    assert abs(encrypted_accuracy - plain_accuracy) <= 0.01
    assert np.all((prediction.outputs >= 0) & (prediction.outputs <= 1))


def test_polynomial_with_a_given_range(cancer, cancer_keras):
    model = hm.from_keras(cancer_keras, output="polynomial", input_range=(-8, 8), degree=5)
    assert model.input_range == (-8.0, 8.0) and model.depth == 1 + 4
    assert model.approximation_error == pytest.approx(
        he_tf.approx.max_error(he_tf.approx.sigmoid_polynomial(-8, 8, 5), he_tf.approx.sigmoid, -8, 8))
    z = np.linspace(-8, 8, 7)[:, None]
    # predict_plain folds the range's scale into the weights: same polynomial of the same logits.
    weights = model.logit_steps[0]
    x = np.linalg.lstsq(weights.weights.T, (z - weights.bias).T, rcond=None)[0].T
    expected = np.polyval(he_tf.approx.sigmoid_polynomial(-8, 8, 5), z)
    np.testing.assert_allclose(model.predict_plain(x), expected, atol=1e-9)


def test_diabetes_within_relative_1e_3():
    data = examples.load("diabetes")
    net = examples.keras_from_sklearn(data)
    plain = keras_outputs(net, data.x_test)
    for layout in ("batch", "vector"):
        prediction = serve(hm.from_keras(net, layout=layout), data.x_test)
        assert prediction.activation == "linear"
        assert np.max(np.abs(prediction.outputs - plain) / np.abs(plain)) <= 1e-3
        with pytest.raises(ValueError, match="no class labels"):
            prediction.labels()


@pytest.mark.parametrize("layout", ["batch", "vector"])
def test_wine_softmax_identical_argmax(layout):
    data = examples.load("wine")
    net = examples.keras_from_sklearn(data)
    model = hm.from_keras(net, layout=layout)
    assert (model.activation, model.n_outputs) == ("softmax", 3)
    prediction = serve(model, data.x_test)
    plain = keras_outputs(net, data.x_test)
    np.testing.assert_array_equal(prediction.labels(), np.argmax(plain, axis=1))
    np.testing.assert_allclose(prediction.outputs, plain, atol=1e-4)


@pytest.mark.parametrize("layout", ["batch", "vector"])
@pytest.mark.parametrize("activation", ["square", "polynomial"])
def test_hidden_layer_with_polynomial_activation(layout, activation):
    rng = np.random.default_rng(0)
    act = tf.math.square if activation == "square" else hm.PolynomialActivation([0.1, 0.5, 0.2])
    net = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation=act),
                            keras.layers.Dense(3, activation="softmax")])
    net.set_weights([w * 0.5 for w in (rng.normal(size=w.shape) for w in net.get_weights())])
    model = hm.from_keras(net, layout=layout)
    assert model.depth == 1 + (1 if activation == "square" else 2) + 1
    x = rng.normal(size=(5, 6))
    np.testing.assert_allclose(hm.outputs.softmax(model.predict_plain(x)), keras_outputs(net, x), atol=1e-5)
    prediction = serve(model, x)
    np.testing.assert_allclose(prediction.raw, model.predict_plain(x), atol=1e-4)


def test_affine_layers_fold_into_one_dense():
    rng = np.random.default_rng(1)
    x = rng.normal(loc=3.0, scale=2.0, size=(50, 5))
    normalization = keras.layers.Normalization()
    normalization.adapt(x)
    batch_norm = keras.layers.BatchNormalization()
    net = keras.Sequential([
        keras.Input((5,)), normalization, keras.layers.Rescaling(0.5, offset=0.1), keras.layers.Dense(4),
        keras.layers.Dropout(0.5), batch_norm, keras.layers.Dense(1), keras.layers.Activation("sigmoid"),
    ])
    gamma, beta = rng.uniform(0.5, 2, 4), rng.normal(size=4)
    batch_norm.set_weights([gamma, beta, rng.normal(size=4), rng.uniform(1, 2, 4)])  # + moving mean, variance
    model = hm.from_keras(net)
    assert len(model.steps) == 1 and model.depth == 1 and model.activation == "sigmoid"
    np.testing.assert_allclose(sigmoid(model.predict_plain(x)), keras_outputs(net, x), atol=1e-5)


def test_functional_and_nested_models():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    inputs = keras.Input((4,))
    net = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inner(inputs)))
    x = np.random.default_rng(2).normal(size=(8, 4))
    model = hm.from_keras(net)
    np.testing.assert_allclose(hm.outputs.softmax(model.predict_plain(x)), keras_outputs(net, x), atol=1e-5)


def test_predict_inside_tensorflow(cancer, cancer_keras):
    model = hm.from_keras(cancer_keras)
    keys = he_tf.KeySet.generate(model.params, rotations=None)
    x = cancer.x_test[:20]
    y = model.predict(he_tf.encrypt(keys.public, x))
    assert isinstance(y, he_tf.HETensor) and y.shape == (20, 1)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, y).numpy(), model.logits_plain(x), atol=1e-3)


def test_from_sklearn_pipeline_and_weights(cancer):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    pipe.fit(cancer.x_train, cancer.y_train)
    model = hm.from_sklearn(pipe)
    assert model.activation == "sigmoid" and len(model.steps) == 1
    np.testing.assert_allclose(model.predict_plain(cancer.x_test)[:, 0],
                               pipe.decision_function(cancer.x_test))
    prediction = serve(model, cancer.x_test)
    np.testing.assert_array_equal(prediction.labels(), pipe.predict(cancer.x_test))

    ridge = make_pipeline(MinMaxScaler(), Ridge()).fit(cancer.x_train, cancer.x_train[:, :2])
    np.testing.assert_allclose(hm.from_sklearn(ridge).predict_plain(cancer.x_test),
                               ridge.predict(cancer.x_test))

    weights = hm.from_weights(pipe[-1].coef_[0], pipe[-1].intercept_, "sigmoid")
    assert weights.n_features == 30 and weights.n_outputs == 1 and weights.name == "logistic regression"


@pytest.mark.parametrize("inputs, outputs", [(5, 7), (7, 5), (16, 16), (3, 1), (9, 2)])
def test_vector_layout_rotation_keys_are_exactly_enough(inputs, outputs):
    rng = np.random.default_rng(inputs * 10 + outputs)
    model = hm.from_weights(rng.normal(size=(inputs, outputs)), rng.normal(size=outputs), layout="vector")
    requirements = model.key_requirements()
    assert requirements.rotations == tuple(sorted(rotations.diagonal_matmul(inputs, outputs, 4096)))
    x = rng.normal(size=(2, inputs))
    np.testing.assert_allclose(serve(model, x).raw, model.predict_plain(x), atol=1e-5)


def test_batch_layout_needs_no_rotation_keys(cancer_keras):
    requirements = hm.from_keras(cancer_keras).key_requirements()
    assert requirements.rotations is None
    assert hm.KeyRequirements.from_json(requirements.to_json()) == requirements


def test_bytes_are_counted_both_ways(cancer, cancer_keras):
    model = hm.from_keras(cancer_keras)
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.send_public_context(), model)
    request = client.encrypt(cancer.x_test)
    response = server.handle(request)
    client.decrypt(response)
    assert client.traffic.sent == len(client.public_context) + len(request)
    assert server.traffic.received == len(request) and server.traffic.sent == len(response)
    assert client.traffic.received == len(response)
    assert len(response) < len(request) / 10  # one ciphertext back, at the lowest level


# --- errors -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cancer_model(cancer_keras):
    return hm.from_keras(cancer_keras)


@pytest.fixture(scope="module")
def cancer_keys(cancer_model):
    return cancer_model.key_requirements().generate_keys()


def test_feature_count_mismatch(cancer, cancer_model, cancer_keys):
    x_enc = he_tf.encrypt(cancer_keys.public, cancer.x_test[:, :29])
    with pytest.raises(ValueError, match=r"takes 30 features per sample.*has shape \(114, 29\)"):
        cancer_model.predict(x_enc)
    with pytest.raises(ValueError, match="takes 30 features"):
        cancer_model.predict_plain(cancer.x_test[:, :29])
    client = hm.Client(cancer_keys)
    server = hm.Server(cancer_keys.public, cancer_model)
    with pytest.raises(ValueError, match="takes 30 features"):
        server.handle(client.encrypt(cancer.x_test[:, :29]))


def test_predict_refuses_plaintext_and_other_layouts(cancer, cancer_model, cancer_keys):
    with pytest.raises(TypeError, match="HETensor.*predict_plain"):
        cancer_model.predict(cancer.x_test)
    with pytest.raises(ValueError, match="serves layout='batch'.*layout='vector'"):
        cancer_model.predict(he_tf.encrypt(cancer_keys.public, cancer.x_test[:2], layout="vector"))


def test_input_without_enough_levels(cancer, cancer_keras):
    model = hm.from_keras(cancer_keras, output="polynomial", input_range=(-60, 60))
    keys = he_tf.KeySet.generate(he_tf.Params.for_depth(1), rotations=None)
    with pytest.raises(ValueError, match=r"needs 4 multiplicative levels.*key_requirements"):
        model.predict(he_tf.encrypt(keys.public, cancer.x_test))
    with pytest.raises(ValueError, match="give depth 1.*needs 4"):
        hm.Server(keys.public, model)


def test_parameters_too_small_for_the_model(cancer_keras):
    with pytest.raises(ValueError, match=r"needs multiplicative depth 4.*Params.for_depth\(4\)"):
        hm.from_keras(cancer_keras, output="polynomial", input_range=(-9, 9), params=he_tf.Params())


@pytest.mark.parametrize("build, match", [
    (lambda: keras.Sequential([keras.Input((8, 1)), keras.layers.Conv1D(2, 3, name="c1"), keras.layers.Flatten(),
                               keras.layers.Dense(1)]), r"layer 'c1' \(Conv1D\) cannot run on encrypted"),
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="hidden"),
                               keras.layers.Dense(1)]),
     r"layer 'hidden' \(Dense\) uses activation 'relu'.*polynomial"),
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid"),
                               keras.layers.Dense(1)]), "applies sigmoid before its last layer"),
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Reshape((2, 2)),
                               keras.layers.Permute((2, 1), name="swap"), keras.layers.Flatten(),
                               keras.layers.Dense(1)]),
     r"layer 'swap' \(Permute\) cannot run on encrypted inputs"),
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.LayerNormalization(name="ln"),
                               keras.layers.Dense(1)]), r"layer 'ln' \(LayerNormalization\) cannot run"),
    (lambda: keras.Sequential([keras.layers.Dense(1)]), "is not built"),
])
def test_models_the_encrypted_path_cannot_run(build, match):
    with pytest.raises(ValueError, match=match):
        hm.from_keras(build())


def test_branching_functional_model():
    inputs = keras.Input((4,))
    a, b = keras.layers.Dense(2, name="a")(inputs), keras.layers.Dense(2, name="b")(inputs)
    net = keras.Model(inputs, keras.layers.Add(name="sum")([a, b]))
    with pytest.raises(ValueError, match="does not simply take the output of the layer before it"):
        hm.from_keras(net)


def test_output_mode_errors(cancer_keras):
    wine = examples.keras_from_sklearn(examples.load("wine"))
    with pytest.raises(ValueError, match="cannot evaluate softmax on the server.*output='logits'"):
        hm.from_keras(wine, output="polynomial", input_range=(-5, 5))
    with pytest.raises(ValueError, match="pass input_range=.*or data="):
        hm.from_keras(cancer_keras, output="polynomial")
    with pytest.raises(ValueError, match="output must be one of"):
        hm.from_keras(cancer_keras, output="probabilities")
    with pytest.raises(ValueError, match="low < high"):
        hm.from_keras(cancer_keras, output="polynomial", input_range=(3, -3))


def test_server_refuses_the_secret_key(cancer_model, cancer_keys):
    with pytest.raises(TypeError, match="must never hold the secret key"):
        hm.Server(cancer_keys.secret, cancer_model)
    with pytest.raises(TypeError, match="must never hold the secret key"):
        hm.Server(cancer_keys, cancer_model)
    with pytest.raises(ValueError, match="serialized secret key.*must never hold it"):
        hm.Server(cancer_keys.secret.serialize(), cancer_model)
    with pytest.raises(ValueError, match="public context"):
        hm.Server(b"HETFPUB1 but not really", cancer_model)


def test_bad_messages(cancer, cancer_model, cancer_keys):
    server = hm.Server(cancer_keys.public, cancer_model)
    request = hm.Client(cancer_keys).encrypt(cancer.x_test[:3])
    with pytest.raises(ValueError, match="not an he-tf message"):
        server.handle(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(ValueError, match="format b'2' is not supported"):
        server.handle(b"HETFMSG2" + request[8:])
    with pytest.raises(ValueError, match="body holds"):
        server.handle(request[:-10])
    with pytest.raises(ValueError, match="expected an he-tf request, got a 'response'"):
        server.handle(server.handle(request))
    other = cancer_model.key_requirements().generate_keys()
    with pytest.raises(ValueError, match="encrypted under key set .* holds the public context of key set"):
        server.handle(hm.Client(other).encrypt(cancer.x_test[:3]))
    header_size = int.from_bytes(request[8:12], "big")
    corrupted = bytearray(request)
    corrupted[12 + header_size + 100:12 + header_size + 400] = bytes(300)
    with pytest.raises(ValueError, match="cannot load the request's ciphertexts: .*(checksum|refused)"):
        server.handle(bytes(corrupted))


def test_wire_roundtrip_keeps_the_type_spec(cancer_keys):
    x = he_tf.encrypt(cancer_keys.public, np.arange(12.0).reshape(4, 3), layout="vector")
    y = x * 2.0
    message = wire.decode(wire.encode("response", y, cancer_keys.public.key_id, {"k": 1}), cancer_keys.public,
                          "response")
    assert tf.type_spec_from_value(message.tensor) == tf.type_spec_from_value(y) and message.meta == {"k": 1}
    np.testing.assert_allclose(he_tf.decrypt(cancer_keys.secret, message.tensor),
                               np.arange(12.0).reshape(4, 3) * 2, atol=1e-6)
