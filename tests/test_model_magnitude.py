"""The model compilers bound every step's results and refuse models whose results would wrap around.

CKKS computes modulo the primes left in a ciphertext: a value v at scale s
decrypts correctly only while |v| * s < q_0 * ... * q_level / 2 (the
headroom), and past it decrypts to a wrong value with no error. The tests
show the wraparound at exactly that bound, then the compilers refusing it.
"""

import itertools

import numpy as np
import pytest

import he_tf
import he_tf.models as hm
from he_tf import levels
from he_tf.models import examples
from he_tf.models.steps import Dense, Polynomial, Square

IDENTITY = Dense(np.eye(1), np.zeros(1))  # a model starts with a Dense step


def serve(model: hm.EncryptedModel, x: np.ndarray, bounded: bool = True) -> np.ndarray:
    """The model's raw result through Client and Server; ``bounded=False``: a client that does not
    check the features against the model's bounds."""
    requirements = hm.KeyRequirements.from_json(model.key_requirements().to_json())  # as a client gets them
    client = hm.Client.generate(requirements) if bounded else hm.Client(requirements.generate_keys())
    server = hm.Server(client.send_public_context(), model)
    return client.decrypt(server.handle(client.encrypt(x))).raw


@pytest.fixture(scope="module")
def square_model():
    """x -> x^2 under Params.for_depth(2), compiled without a feature range."""
    return hm.from_steps([IDENTITY, Square()])


def test_headroom_is_half_the_modulus_left(square_model):
    params = square_model.params
    assert params == he_tf.Params.for_depth(2)
    q = params.primes
    assert levels.headroom(params, 2) == pytest.approx(q[0] * q[1] * q[2] / 2, rel=1e-15)
    assert levels.headroom(params, 0) == q[0] / 2
    assert levels.headroom(params, 0) == pytest.approx(2.0**59, rel=1e-13)  # q_0 is a relative 1e-14 below 2^60
    assert levels.max_magnitude(params, 0, 2.0**40) == pytest.approx(params.max_value, rel=1e-13)
    assert params.max_value == 2**19


def test_past_the_headroom_results_wrap_silently(square_model):
    """The defect the compiler check prevents: 800^2 decrypts to 800^2 - q_0 / scale with no error."""
    model = square_model
    row = model.magnitudes((-1.0, 1.0))[-1]  # the result's level and scale, whatever the range
    assert row.level == 0
    room = levels.max_magnitude(model.params, 0, row.scale)
    assert 720**2 < room < 730**2
    # The worst case is a value in every slot: its polynomial's constant coefficient is the value itself.
    slots = model.params.slot_count
    raw = [serve(model, np.full((slots, 1), v), bounded=False)[:, 0] for v in (720.0, 730.0, 800.0)]
    wrap = 2 * room  # q_0 / scale
    for got, expected in zip(raw, [720.0**2, 730.0**2 - wrap, 800.0**2 - wrap]):
        np.testing.assert_allclose(got, expected, atol=0.5)
    assert raw[2][0] == pytest.approx(-408576, abs=1)
    # Without a feature range the model says how large features may be: just below sqrt(room).
    assert model.feature_range is None
    assert model.max_feature_magnitude == pytest.approx(np.sqrt(room), rel=1e-6)
    assert "results decrypt correctly for |features| < 724" in model.summary()


DEPTH_2 = he_tf.Params.for_depth(2)  # the default without a range: 2^19 of room


def test_the_client_refuses_features_that_could_wrap(square_model):
    """A model's feature bounds (its feature range, grown as far as every result still fits) travel in
    its key requirements, and its client refuses features outside them."""
    assert square_model.key_requirements().feature_bounds is None  # no range: nothing to enforce
    bounded = hm.from_steps([IDENTITY, Square()], feature_range=([-1.0], [1.0]), params=DEPTH_2)
    m = square_model.max_feature_magnitude  # x^2 fits below ~724.6
    (low,), (high,) = bounded.key_requirements().feature_bounds
    assert low == -high and m * (1 - 1e-6) < high <= m
    assert serve(bounded, np.array([[720.0], [-720.0]]))[:, 0] == pytest.approx([720.0**2] * 2, abs=0.5)
    for bad in (730.0, -800.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"feature 0 of sample 1 is .*, outside \[-724\.\d+, 724\.\d+\]"):
            serve(bounded, np.array([[1.0], [bad]]))
    # Per feature, about the range's centre: x0 + x1 with x0 in [-1, 1], x1 in [0, 4] (centre 2, half 2).
    boxed = hm.from_weights(np.ones((2, 1)), feature_range=([-1.0, 0.0], [1.0, 4.0]),
                            params=he_tf.Params.for_depth(1))
    low, high = boxed.feature_bounds
    k = high[0]
    assert k > 1000 and low[0] == -k and high[1] == pytest.approx(2 + 2 * k) and low[1] == pytest.approx(2 - 2 * k)
    assert serve(boxed, np.array([[1.5, -3.0]]))[:, 0] == pytest.approx([-1.5], abs=1e-4)  # beyond the range
    with pytest.raises(ValueError, match="feature 1 of sample 0 is -1e[+]30, outside"):
        serve(boxed, np.array([[0.5, -1e30]]))


@pytest.mark.parametrize("document, match", [
    (b"[" * 100_000, "malformed key requirements"),
    (b'{"params": [8192, [60, 40, 60], 40], "rotations": null, "layout": "diagonal"}', "layout"),
    (b'{"params": [8192, [60, 40, 60], 40], "rotations": null, "layout": "batch", '
     b'"feature_bounds": [[0.0], [1.0, 2.0]]}', "equally long"),
    (b'{"params": [8192, [60, 40, 60], 40], "rotations": null, "layout": "batch", '
     b'"feature_bounds": [[1.0], [0.0]]}', "low <= high"),
    (b'{"params": [8192, [60, 40, 60], 40], "rotations": null, "layout": "batch", '
     b'"feature_bounds": [[NaN], [1.0]]}', "finite"),
    (b'{"params": [3, [60], 40], "rotations": null, "layout": "batch"}', "malformed key requirements"),
    (b" " * (hm.model.MAX_REQUIREMENTS_BYTES + 1), "at most"),
    (b'{"params": [4096, [40, 29, 40], 29], "rotations": [4096], "layout": "vector"}', "not in 0 < |step| < 2048"),
    (b'{"params": [4096, [40, 29, 40], 29], "rotations": [1, 1], "layout": "vector"}', "repeated"),
    (b'{"params": [4096, [40, 29, 40], 29], "rotations": ' + str(list(range(1, 2000))).encode()
     + b', "layout": "vector"}', "at most 244 distinct"),
])
def test_bad_key_requirements_are_refused(document, match):
    with pytest.raises(ValueError, match=match):
        hm.KeyRequirements.from_json(document)


def test_a_range_past_the_headroom_is_refused_with_the_numbers_and_the_fix():
    with pytest.raises(ValueError, match=r"Square\(\) can reach \|value\| 640000, but a ciphertext at level 0 "
                                         r"and scale 2\^40 holds \|value\| < 524288.*wrap around.*params="):
        hm.from_steps([IDENTITY, Square()], feature_range=(-800, 800), params=DEPTH_2)
    hm.from_steps([IDENTITY, Square()], feature_range=(-720, 720), params=DEPTH_2)  # within the room: accepted
    # Without params the compiler sizes the chain for the range instead.
    model = hm.from_steps([IDENTITY, Square()], feature_range=(-800, 800))
    assert all(row.fits for row in model.magnitudes()) and model.params.max_value > 800


def test_the_suggested_parameters_decrypt_correctly():
    with pytest.raises(ValueError) as refusal:
        hm.from_steps([IDENTITY, Square()], feature_range=(-800, 800), params=DEPTH_2)
    suggested = he_tf.Params.for_depth(2, scale_bits=38, first_bits=60)
    assert f"params={suggested!r}" in str(refusal.value)
    model = hm.from_steps([IDENTITY, Square()], feature_range=(-800, 800), params=suggested)
    x = np.full((model.params.slot_count, 1), 800.0)
    x[:2, 0] = -799.5, 3.0
    np.testing.assert_allclose(serve(model, x), x**2, atol=1e-3)


def test_dense_bounds_are_exact_over_the_box():
    rng = np.random.default_rng(0)
    dense = Dense(rng.normal(size=(4, 3)), rng.normal(size=3))
    low, high = rng.uniform(-5, 0, 4), rng.uniform(0, 5, 4)
    corners = np.array(list(itertools.product(*zip(low, high))))
    out = dense.plain(corners)
    got_low, got_high = dense.interval(low, high)
    np.testing.assert_allclose(got_low, out.min(axis=0))
    np.testing.assert_allclose(got_high, out.max(axis=0))
    model = hm.from_steps([dense], feature_range=(low, high))
    # One affine layer: complex packing, whose slots x + iy are bounded by sqrt(2) max(|x|, |y|).
    assert model.complex_packing and model.slot_growth == pytest.approx(np.sqrt(2))
    assert model.magnitudes()[0].bound == pytest.approx(np.sqrt(2) * np.max(np.abs(out)))
    vector = hm.from_steps([dense], feature_range=(low, high), layout="vector")
    assert vector.magnitudes()[0].bound == pytest.approx(np.max(np.abs(out)))


def test_square_and_polynomial_bounds_hold():
    rng = np.random.default_rng(1)
    low, high = np.array([-2.0, 0.5, -3.0]), np.array([1.0, 2.0, -1.0])
    x = rng.uniform(low, high, size=(10000, 3))
    for step in (Square(), Polynomial([0.5, -1.0, 2.0, 0.25])):
        step_low, step_high = step.interval(low, high)
        y = step.plain(x)
        assert np.all(y >= step_low) and np.all(y <= step_high)
    np.testing.assert_allclose(Square().interval(low, high), ([0.0, 0.25, 1.0], [4.0, 4.0, 9.0]))


def test_a_hidden_layer_past_the_headroom_is_refused():
    # Dense -> Square -> Dense: the hidden squares stay small, the output layer's sum of 64 of them does not.
    hidden = Dense(np.eye(4) * 100.0, np.zeros(4))
    out = Dense(np.full((4, 1), 400.0), np.zeros(1))
    with pytest.raises(ValueError, match=r"Dense\(4 -> 1\) can reach \|value\| 1\.6e\+07"):
        hm.from_steps([hidden, Square(), out], feature_range=(-1, 1), params=he_tf.Params.for_depth(3))
    model = hm.from_steps([hidden, Square(), out.scaled(1 / 64)], feature_range=(-1, 1),
                          params=he_tf.Params.for_depth(3))
    x = np.tile([[1.0, -1.0, -1.0, 1.0]], (model.params.slot_count, 1))  # the worst case, in every slot
    np.testing.assert_allclose(serve(model, x), model.predict_plain(x), atol=1e-2)


def test_range_derived_from_data_and_checked():
    x = np.array([[0.0, 10.0], [1.0, 30.0]])
    model = hm.from_weights(np.ones(2), 0.0, data=x)
    low, high = model.feature_range
    np.testing.assert_allclose(low, [-0.1, 8.0])
    np.testing.assert_allclose(high, [1.1, 32.0])
    with pytest.raises(ValueError, match="can reach"):
        hm.from_weights(np.full(2, 1e5), 0.0, data=x, params=he_tf.Params.for_depth(1))


def test_features_that_cannot_be_encrypted_are_refused():
    with pytest.raises(ValueError, match=r"feature_range reaches \|x\| = 1e\+06.*can only encrypt"):
        hm.from_weights(np.ones(1) * 1e-3, feature_range=(0, 1e6), params=he_tf.Params.for_depth(1))


@pytest.mark.parametrize("bad", [(1, 0), (0, np.nan), (0, [1, 2, 3]), 5, (0, np.inf)])
def test_bad_feature_ranges(bad):
    with pytest.raises(ValueError, match="feature_range must be"):
        hm.from_weights(np.ones(2), feature_range=bad)


def test_the_demo_models_compile_to_the_smallest_ring_and_pass_the_check():
    for name, depth in (("breast_cancer", 1), ("diabetes", 1), ("wine", 1)):
        data = examples.load(name)
        net = examples.keras_from_sklearn(data)
        model = hm.from_keras(net, data=data.x_train)
        # The features are raw (the Normalization layer is folded into the weights): up to 4254 for the
        # breast-cancer areas, which the first prime must hold, so N=8192; standardized ones fit N=4096.
        assert model.params.poly_modulus_degree <= 8192 and model.params.depth == depth
        assert model.params.precision_bits() >= hm.model.PRECISION_BITS and model.feature_range is not None
        assert all(row.fits for row in model.magnitudes())
        assert "feature_range checked" in model.summary()
        np.testing.assert_allclose(model.feature_range[0], data.x_train.min(axis=0)
                                   - 0.1 * np.ptp(data.x_train, axis=0))
    cancer = examples.load("breast_cancer")
    polynomial = hm.from_keras(examples.keras_from_sklearn(cancer), output="polynomial", data=cancer.x_train)
    assert polynomial.params.depth == 4 and polynomial.params.precision_bits() >= hm.model.PRECISION_BITS
    assert all(row.fits for row in polynomial.magnitudes())
