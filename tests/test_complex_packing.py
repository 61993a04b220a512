"""Complex packing: two samples per CKKS slot for linear models, checked against NumPy."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import he_tf
import he_tf.models as hm
from he_tf import ops
from he_tf.models import complex_slots, wire

PARAMS = he_tf.Params(4096, (39, 30, 39), 30)
# Scale 2^30: encoding and one product leave errors near 1e-6 on values of order 1; 1e-4 leaves room.
ATOL = 1e-4


@pytest.fixture(scope="module")
def keys():
    return he_tf.KeySet.generate(PARAMS)


@pytest.fixture(scope="module")
def breast_cancer():
    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    fit = LogisticRegression(max_iter=5000).fit(x, y)
    return x, fit.coef_[0], float(fit.intercept_[0])


def test_fold_and_unfold_an_odd_count():
    x = np.arange(14.0).reshape(7, 2)
    real, imag = complex_slots.fold(x)
    assert real.shape == imag.shape == (4, 2)
    np.testing.assert_array_equal(real, x[:4])
    np.testing.assert_array_equal(imag[:3], x[4:])
    np.testing.assert_array_equal(imag[3], 0.0)
    np.testing.assert_array_equal(complex_slots.unfold(real, imag, 7), x)
    with pytest.raises(ValueError, match="7 folded samples take 4 rows"):
        complex_slots.unfold(real[:3], imag[:3], 7)


def test_both_parts_round_trip(keys):
    rng = np.random.default_rng(1)
    real, imag = rng.uniform(-3, 3, (3000, 2)), rng.uniform(-3, 3, (3000, 2))  # two chunks of slots
    x = he_tf.encrypt(keys.public, real, imag=imag, secret=keys.secret)
    got_real, got_imag = (p.numpy() for p in he_tf.decrypt_parts(keys.secret, x))
    np.testing.assert_allclose(got_real, real, atol=ATOL)
    np.testing.assert_allclose(got_imag, imag, atol=ATOL)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, x).numpy(), real, atol=ATOL)


def test_imag_must_match_the_shape(keys):
    with pytest.raises(ValueError, match="imag must be a float tensor of x's shape"):
        he_tf.encrypt(keys.public, np.ones((4, 2)), imag=np.ones((4, 3)))


def test_the_dense_layer_acts_on_both_parts_with_the_bias_in_both(keys):
    rng = np.random.default_rng(2)
    weights, bias = rng.normal(size=(5, 3)), rng.normal(size=3)
    real, imag = rng.normal(size=(3000, 5)), rng.normal(size=(3000, 5))
    x = he_tf.encrypt(keys.public, real, imag=imag, secret=keys.secret)
    y = hm.Dense(weights, bias).encrypted_folded(x, 6000)
    got_real, got_imag = (p.numpy() for p in he_tf.decrypt_parts(keys.secret, y))
    np.testing.assert_allclose(got_real, real @ weights + bias, atol=ATOL)
    np.testing.assert_allclose(got_imag, imag @ weights + bias, atol=ATOL)


@pytest.mark.parametrize("samples", [569, 5001])  # block layout; then more samples than slots, unpacked
def test_breast_cancer_labels_identical_and_half_the_ciphertexts(breast_cancer, samples):
    x, weights, bias = breast_cancer
    rng = np.random.default_rng(3)
    data = x if samples == 569 else rng.multivariate_normal(x.mean(0), np.cov(x, rowvar=False), size=samples)
    model = hm.from_weights(weights, bias, "sigmoid", data=data)
    assert model.complex_packing
    requirements = model.key_requirements(samples=samples)
    assert requirements.complex
    client = hm.Client.generate(requirements)
    server = hm.Server(client.public_context, model)
    request = client.encrypt(data)
    message = wire.decode(request, client._keys.public, "request")
    assert message.meta["folded"] == samples
    layout = requirements.block_layout(samples, 30)
    assert layout.samples == complex_slots.rows(samples)
    slots = model.params.slot_count
    unfolded = hm.blocks.choose(samples, 30, 1, model.params) if samples <= slots else None
    count = message.tensor.ciphertexts.shape.num_elements()
    if unfolded is None:  # one feature per ciphertext: chunks of the folded rows
        assert count == 30 * -(-complex_slots.rows(samples) // slots) == 30 * -(-samples // (2 * slots))
    else:
        assert count == layout.ciphertexts < unfolded.ciphertexts
    response = server.handle(request)
    prediction = client.decrypt(response)
    logits = model.logits_plain(data)
    # An odd count leaves one part of the last row without a sample: it stays zero (the bias is not added
    # there), as does every slot past the outputs.
    y = wire.decode(response, client._keys.public, "response").tensor
    both = ops.decrypt(y.context, client._keys.secret.tensor, y.ciphertexts, num_values=2 * slots,
                             complex=True).numpy()
    nonzero = np.abs(both) > 1e-4  # the re-randomization leaves noise near 1e-5 in every slot
    real, imag = nonzero[..., :slots].sum(), nonzero[..., slots:].sum()
    assert (real, imag) == (complex_slots.rows(samples), samples - complex_slots.rows(samples))
    assert prediction.raw.shape == (samples, 1)
    np.testing.assert_allclose(prediction.raw, logits, atol=ATOL)
    np.testing.assert_array_equal(prediction.raw[:, 0] > 0, logits[:, 0] > 0)


def test_non_linear_models_are_not_complex_packed():
    square = hm.from_steps([hm.Dense(np.eye(3), np.zeros(3)), hm.Square()])
    rng = np.random.default_rng(4)
    x = rng.normal(size=(100, 3))
    polynomial = hm.from_weights(np.ones(3), 0.0, "sigmoid", output="polynomial", data=x)
    vector = hm.from_weights(np.ones(3), 0.0, "sigmoid", layout="vector")
    for model in (square, polynomial, vector):
        assert not model.complex_packing
        assert not model.key_requirements(samples=100).complex
    assert hm.from_weights(np.ones(3), 0.0, "linear", output="polynomial").complex_packing  # one Dense
    keys = he_tf.KeySet.generate(square.params)
    z = he_tf.encrypt(keys.public, x, imag=x, secret=keys.secret)
    with pytest.raises(ValueError, match="cannot serve complex-packed requests"):
        square.predict_blocks(z, square.block_layout(100), folded=200)
    request = wire.encode("request", z, keys.public.key_id, {"folded": 200})
    with pytest.raises(wire.WireFormatError, match="a non-linear step would mix the samples"):
        hm.Server(keys.public, square).handle(request)


def test_the_slot_modulus_bounds_the_folded_results():
    x = np.random.default_rng(5).normal(size=(50, 3))
    model = hm.from_weights(np.ones(3), 0.0, data=x)
    square = hm.from_steps([hm.Dense(np.ones((3, 1)), np.zeros(1)), hm.Square()], data=x)
    folded, plain = model.magnitudes()[0], square.magnitudes()[0]
    assert folded.bound == pytest.approx(np.sqrt(2) * plain.bound)  # the same Dense, folded or not


def test_key_requirements_carry_complex_packing():
    model = hm.from_weights(np.ones(3), 0.0, "sigmoid")
    requirements = model.key_requirements(samples=10)
    parsed = hm.KeyRequirements.from_json(requirements.to_json())
    assert parsed.complex and parsed == requirements
    document = json.loads(requirements.to_json())
    for value, match in ((1, "complex must be true or false"), ("yes", "complex must be true or false")):
        with pytest.raises(ValueError, match=match):
            hm.KeyRequirements.from_json(json.dumps(dict(document, complex=value)).encode())
    with pytest.raises(ValueError, match="complex packing needs the batch layout"):
        hm.KeyRequirements.from_json(json.dumps(dict(document, layout="vector")).encode())


def test_folded_rows_must_match_the_request(keys):
    model = hm.from_weights(np.ones((2, 1)), [0.5], params=PARAMS)
    x = he_tf.encrypt(keys.public, np.ones((4, 2)), imag=np.ones((4, 2)), secret=keys.secret)
    server = hm.Server(keys.public, model)
    with pytest.raises(wire.WireFormatError, match="5 samples fold into 3 rows, the request has 4"):
        server.handle(wire.encode("request", x, keys.public.key_id, {"folded": 5}))
    response = server.handle(wire.encode("request", x, keys.public.key_id, {"folded": 7}))
    prediction = hm.Client(keys).decrypt(response)
    np.testing.assert_allclose(prediction.raw, np.full((7, 1), 2.5), atol=ATOL)
