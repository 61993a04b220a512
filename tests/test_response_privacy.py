"""What a client can decrypt from a response: the result's values and nothing else.

The client holds the secret key, so it can decrypt every slot of every
ciphertext, not only the ones ``he_tf.decrypt`` reads. These tests do exactly
that (``ops.decrypt`` with ``num_values = slot_count``) and check that every
slot outside the result is zero, in both layouts, both output modes and for
one output, several outputs and several layers; that a sum over the packed
axis leaves no partial sums; that responses are re-randomized; and what noise
flooding costs.
"""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
import he_tf.models as hm
from he_tf import ops, packing
from he_tf.models import complex_slots, wire
from he_tf.models.steps import Dense, Square

# Slots outside the result hold the rounding residue of the plaintext masks (about 1e-9 of the values) and
# the noise; values of the result are O(1) to O(10) here.
ZERO_ATOL = 1e-6
RESULT_ATOL = 1e-3
ROTATED_ATOL = 1e-4  # sums of up to 20 values through 5 to 9 rotations (about 2e-6 error each)
rng = np.random.default_rng(7)


def all_slots(secret: he_tf.SecretKey, y: he_tf.HETensor, part: str = "real") -> np.ndarray:
    """Every slot of every ciphertext of y: ``[ciphertext shape..., slot_count]``, their real or
    imaginary parts."""
    slots = y.he_params.slot_count
    both = ops.decrypt(y.context, secret.tensor, y.ciphertexts, num_values=2 * slots, complex=True).numpy()
    return both[..., :slots] if part == "real" else both[..., slots:]


def expected_slots(y: he_tf.HETensor, values: np.ndarray) -> np.ndarray:
    """What the slots of y must hold for the logical values: the packed values, zeros in every other slot."""
    slots = y.he_params.slot_count
    if y.packed_axis is None:
        rows = np.asarray(values, np.float64)[..., None]
    else:
        rows = packing.pack(tf.constant(values, tf.float64), y.packed_axis, slots).numpy()
    return np.concatenate([rows, np.zeros(rows.shape[:-1] + (slots - rows.shape[-1],))], axis=-1)


def check_only_result(secret: he_tf.SecretKey, y: he_tf.HETensor, values: np.ndarray,
                      result_atol: float = RESULT_ATOL, part: str = "real", zero_atol: float = ZERO_ATOL) -> None:
    got, want = all_slots(secret, y, part), expected_slots(y, values)
    used = want != 0
    outside = np.abs(got[~used]).max()
    assert outside <= zero_atol, f"a slot outside the result holds {outside:.3g}"
    np.testing.assert_allclose(got[used], want[used], atol=result_atol)


def response_tensor(client: hm.Client, response: bytes) -> he_tf.HETensor:
    return wire.decode(response, client._keys.public, expect="response").tensor


# ---- models ----------------------------------------------------------------------------------------------

FEATURES, HIDDEN = 30, 4
W1, B1 = rng.normal(0, 0.3, (FEATURES, HIDDEN)), rng.normal(0, 0.3, HIDDEN)
MODELS = {
    "one output": lambda **o: hm.from_weights(rng.normal(0, 0.5, FEATURES), 0.7, "sigmoid", **o),
    "several outputs": lambda **o: hm.from_weights(rng.normal(0, 0.5, (FEATURES, 3)), [0.3, -0.2, 0.5],
                                                   "softmax", **o),
    "two layers": lambda **o: hm.from_steps([Dense(W1, B1), Square(), Dense(rng.normal(0, 0.5, (HIDDEN, 1)),
                                                                           [0.4])], "sigmoid", **o),
    "two layers, several outputs": lambda **o: hm.from_steps(
        [Dense(W1, B1), Square(), Dense(rng.normal(0, 0.5, (HIDDEN, 2)), [0.1, -0.3])], "softmax", **o),
}
X = rng.normal(0, 1, (3, FEATURES))


def build(name: str, layout: str, output: str) -> hm.EncryptedModel:
    options = dict(layout=layout, output=output)
    if output == "polynomial":
        options.update(input_range=(-8.0, 8.0), degree=3)
    return MODELS[name](**options)


CASES = [(name, layout, output) for name in MODELS for layout in ("batch", "vector")
         for output in ("logits", "polynomial") if not (output == "polynomial" and "several" in name)]


@pytest.mark.parametrize("name,layout,output", CASES)
def test_responses_hold_only_the_result(name, layout, output):
    model = build(name, layout, output)
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.send_public_context(), model)
    response = wire.decode(server.handle(client.encrypt(X)), client._keys.public, expect="response")
    y = response.tensor
    assert y.level == 0
    if "folded" not in response.meta:
        check_only_result(client._keys.secret, y, model.predict_plain(X))
        # The imaginary parts hold noise only (its size: an order above the real parts' rounding residue).
        check_only_result(client._keys.secret, y, np.zeros(y.shape), part="imag", zero_atol=10 * ZERO_ATOL)
        return
    # Complex packing (a linear model): the real parts hold the first samples, the imaginary parts the rest.
    assert model.complex_packing and response.meta["folded"] == len(X)
    real, imag = complex_slots.fold(model.predict_plain(X))
    check_only_result(client._keys.secret, y, real)
    check_only_result(client._keys.secret, y, imag, part="imag")


def recover_weights(slots: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The attack: rotate-and-add leaves the suffix sums s_j = sum_{i >= j} w_i x_i in slots j = 1 .. n - 1
    (slot n is past the window: 0), so w_j = (s_j - s_{j+1}) / x_j. Returns w_1 .. w_{n-1}."""
    n = x.size
    suffix = np.append(slots[1:n], 0.0)
    return (suffix[:-1] - suffix[1:]) / x[1:]


def test_one_vector_response_does_not_reveal_the_weights():
    weights = rng.normal(0, 0.5, FEATURES)
    model = hm.from_weights(weights, 0.7, "sigmoid", layout="vector")
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.send_public_context(), model)
    x = rng.uniform(0.5, 1.5, (1, FEATURES))  # away from 0: the attack divides by x
    y = response_tensor(client, server.handle(client.encrypt(x)))
    slots = all_slots(client._keys.secret, y)[0, 0]
    recovered = recover_weights(slots, x[0])
    error = np.abs(recovered - weights[1:]).max()
    assert error > 0.5 * np.abs(weights[1:]).max(), "the slots gave the weights"
    assert np.abs(slots[1:]).max() <= ZERO_ATOL
    np.testing.assert_allclose(slots[0], x[0] @ weights + 0.7, atol=RESULT_ATOL)


# ---- reduce_sum and matmul on HETensors ------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotation_keys() -> he_tf.KeySet:
    return he_tf.KeySet.generate(he_tf.Params.for_depth(2), rotations="power_of_two")


@pytest.mark.parametrize("layout", ["batch", "vector"])
def test_reduce_sum_over_the_packed_axis_leaves_no_partial_sums(rotation_keys, layout):
    x = rng.normal(0, 1, (5, 20))
    x_enc = he_tf.encrypt(rotation_keys.public, x, layout=layout)
    axis = x_enc.packed_axis
    y = he_tf.reduce_sum(x_enc, axis=axis)
    assert y.packed_axis is None and y.level == x_enc.level - 1
    check_only_result(rotation_keys.secret, y, x.sum(axis=axis), result_atol=ROTATED_ATOL)
    # What comes after a sum keeps the other slots zero: constants go to slot 0 only.
    z = tf.math.polyval([2.0, -1.0], y + 3.0)
    check_only_result(rotation_keys.secret, z, 2.0 * (x.sum(axis=axis) + 3.0) - 1.0, result_atol=ROTATED_ATOL)


def test_reduce_sum_of_one_value_per_ciphertext_costs_no_level(rotation_keys):
    x_enc = he_tf.encrypt(rotation_keys.public, rng.normal(0, 1, (4, 1)), layout="vector")
    y = he_tf.reduce_sum(x_enc, axis=1)
    assert y.level == x_enc.level


@pytest.mark.parametrize("w_shape", [(20,), (20, 1), (20, 3)])
def test_matmul_over_the_packed_axis_leaves_only_its_outputs(rotation_keys, w_shape):
    x, w = rng.normal(0, 1, (2, 20)), rng.normal(0, 1, w_shape)
    x_enc = he_tf.encrypt(rotation_keys.public, x, layout="vector")
    y = x_enc @ w + 0.5
    assert y.level == x_enc.level - 1  # the diagonal method: one level, also for one column
    check_only_result(rotation_keys.secret, y, x @ w + 0.5, result_atol=ROTATED_ATOL)


# ---- re-randomization and flooding -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cancer_setup():
    from he_tf.models import examples

    data = examples.load("breast_cancer")
    model = hm.from_keras(examples.keras_from_sklearn(data), layout="batch")
    client = hm.Client.generate(model.key_requirements())
    return model, client, data.x_test


def test_two_responses_to_one_request_differ(cancer_setup):
    # The computation is deterministic; without re-randomization both components of the response would be a
    # fixed function of the request and the weights (the mask component c1, too, which decryption ignores).
    model, client, x = cancer_setup
    server = hm.Server(client.public_context, model)
    request = client.encrypt(x[:4])
    first, second = server.handle(request), server.handle(request)
    assert first != second
    np.testing.assert_allclose(client.decrypt(first).raw, client.decrypt(second).raw, atol=1e-6)


# Logit error (max over the test set) with flooding; the bound is 6 standard deviations of the flooding plus
# the error without it.
@pytest.mark.parametrize("flood_bits", [0, 20, 25, 30])
def test_flooded_logits_match_plaintext_within_the_documented_error(cancer_setup, flood_bits):
    model, client, x = cancer_setup
    server = hm.Server(client.public_context, model, flood_bits=flood_bits)
    raw = client.decrypt(server.handle(client.encrypt(x))).raw
    error = np.abs(raw - model.logits_plain(x)).max()
    assert error <= 1e-5 + 6 * server.flood_error
    if flood_bits:
        assert server.flood_error == pytest.approx(2.0 ** flood_bits * np.sqrt(8192 / 6) / 2.0 ** 40)
        assert error >= 0.5 * server.flood_error  # the noise is there: 114 values, the largest >= 0.5 sigma
    # Slots outside the result: the flooding noise, nothing else.
    y = response_tensor(client, server.handle(client.encrypt(x)))
    outside = all_slots(client._keys.secret, y)[..., len(x):]
    assert np.abs(outside).max() <= ZERO_ATOL + 6 * server.flood_error


@pytest.mark.parametrize("flood_bits", [-1, 63, 1.5, True])
def test_invalid_flood_bits_are_refused(cancer_setup, flood_bits):
    model, client, _ = cancer_setup
    with pytest.raises(ValueError, match="flood_bits"):
        hm.Server(client.public_context, model, flood_bits=flood_bits)


def test_flooding_that_drowns_the_values_is_refused(cancer_setup):
    model, client, _ = cancer_setup
    with pytest.raises(ValueError, match="would be noise"):
        hm.Server(client.public_context, model, flood_bits=35)
