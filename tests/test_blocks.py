"""The smallest ring for the job and the block layout: parameters, packing, the server's block dense
layer and the wire messages that carry it, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import he_tf
import he_tf.models as hm
from he_tf import _core, ops
from he_tf.models import blocks, rotations, wire
from tests.hostile import craft

ATOL = 1e-3  # logits, as the peers benchmark requires (the measured error is near 1e-5)


def _data(samples: int, features: int, outputs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, features))
    w = rng.normal(scale=0.5, size=(features, outputs))
    b = rng.normal(size=outputs)
    return x, w, b


# --- parameters ------------------------------------------------------------------------------------------


def test_for_depth_precision_picks_the_smallest_ring():
    params = he_tf.Params.for_depth(1, precision_bits=16, magnitude=103.0)
    assert params.poly_modulus_degree == 4096
    assert sum(params.coeff_mod_bit_sizes) <= _core.max_coeff_modulus_bits(4096)
    assert params.precision_bits() >= 16
    assert params.max_value > 103.0  # the first prime holds the magnitude
    deeper = he_tf.Params.for_depth(3, precision_bits=16, magnitude=103.0)
    assert deeper.poly_modulus_degree == 8192 and deeper.depth == 3 and deeper.precision_bits() >= 16


def test_for_depth_precision_refuses_the_impossible():
    with pytest.raises(ValueError, match="no 128-bit-secure ring"):
        he_tf.Params.for_depth(40, precision_bits=40, magnitude=1e6)
    with pytest.raises(ValueError, match="precision_bits"):
        he_tf.Params.for_depth(1, precision_bits=0)


def test_compilers_choose_the_small_ring_from_data():
    x, w, b = _data(200, 30, 1)
    model = hm.from_weights(w, b, "sigmoid", data=x)
    assert model.params.poly_modulus_degree == 4096
    assert "precision about 2^-" in model.summary()
    assert all(row.fits for row in model.magnitudes())
    assert hm.from_weights(w, b, "sigmoid").params == he_tf.Params.for_depth(1)  # no range: the old default


# --- plans from csrc/core -------------------------------------------------------------------------------


def test_plans_come_from_the_core():
    assert rotations.sum_slots(5) == [4, 2, 1]
    assert rotations.diagonal_matmul(30, 1, 2048) == [1, 2, 3, 4, 5, 6, 12, 18, 24]
    assert rotations.diagonal_matmul(3, 4, 2048) == [-3, 1, 2]
    assert _core.naf_rotations(7, 2048) == [-1, 8]
    assert _core.poly_depth(3) == 3 and _core.poly_depth(4) == 3 and _core.poly_depth(1) == 1
    assert rotations.block_dense(569, 3, 1, 2048) == [569, 1138]
    assert rotations.block_dense(100, 2, 3, 2048) == [-200, -100, 100]
    with pytest.raises(ValueError, match="slots"):
        rotations.block_dense(1000, 3, 1, 2048)


# --- the layout and its cost model ----------------------------------------------------------------------


def test_pack_puts_feature_blocks_side_by_side():
    x = np.arange(4 * 5, dtype=np.float64).reshape(4, 5)
    layout = blocks.BlockLayout(samples=4, features=5, blocks=2, slots=16)
    packed = layout.pack(x)
    assert packed.shape == (8, 3) == layout.shape
    for f in range(5):
        j, k = divmod(f, 2)
        np.testing.assert_array_equal(packed[k * 4:(k + 1) * 4, j], x[:, f])
    np.testing.assert_array_equal(packed[4:, 2], 0.0)  # the missing sixth feature


def test_cost_model_packs_the_breast_cancer_request():
    params = he_tf.Params(4096, (39, 30, 39), 30)
    layout = blocks.choose(569, 30, 1, params)
    assert (layout.blocks, layout.ciphertexts) == (3, 10)
    assert not blocks.choose(3000, 30, 1, params).packed  # more samples than slots: chunks, no blocks
    assert blocks.choose(290, 30, 1, params).blocks == 6  # 7 fit, but 6 give the same 5 ciphertexts


# --- the kernel and the models ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def params():
    return he_tf.Params(4096, (39, 30, 39), 30)


@pytest.mark.parametrize("samples, features, outputs", [(569, 30, 1), (300, 7, 3), (600, 5, 4)])
def test_block_dense_matches_numpy(params, samples, features, outputs):
    x, w, b = _data(samples, features, outputs)
    layout = blocks.BlockLayout(samples, features, min(features, params.slot_count // samples), params.slot_count)
    keys = he_tf.KeySet.generate(params, rotations=layout.rotation_steps(outputs))
    encrypted = he_tf.encrypt(keys.public, layout.pack(x), secret=keys.secret)
    y = blocks.block_dense(encrypted, layout, w, b)
    assert y.level == encrypted.level - 1 and y.scale == encrypted.scale
    raw = he_tf.decrypt(keys.secret, y).numpy()
    assert raw.shape == blocks.output_shape(samples, outputs, params.slot_count)
    np.testing.assert_allclose(blocks.unpack_outputs(raw, samples, outputs, params.slot_count), x @ w + b,
                               atol=ATOL)
    # Every slot past the outputs is zero: no partial sum leaves the server.
    values = ops.decrypt(y.context, keys.secret.tensor, y.ciphertexts, num_values=params.slot_count).numpy()
    used = min(outputs, params.slot_count // samples) * samples
    np.testing.assert_allclose(values[..., used:], 0.0, atol=ATOL)


def test_block_dense_zero_weights_give_the_bias(params):
    x, w, b = _data(100, 4, 1)
    layout = blocks.BlockLayout(100, 4, 4, params.slot_count)
    keys = he_tf.KeySet.generate(params, rotations=layout.rotation_steps(1))
    y = blocks.block_dense(he_tf.encrypt(keys.public, layout.pack(x), secret=keys.secret), layout, 0 * w, b)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, y).numpy()[:, 0], b[0], atol=ATOL)


def test_block_dense_refuses_bad_weights(params):
    keys = he_tf.KeySet.generate(params, rotations=None)
    x = he_tf.encrypt(keys.public, np.zeros((200, 2)), secret=keys.secret)
    with pytest.raises(tf.errors.InvalidArgumentError, match="weights"):
        ops.block_dense(x.context, x.ciphertexts, tf.zeros([3, 1], tf.float64), tf.zeros([1], tf.float64),
                        samples=100, blocks=2)


def test_missing_galois_key_is_named(params):
    x, w, b = _data(100, 4, 1)
    layout = blocks.BlockLayout(100, 4, 2, params.slot_count)
    keys = he_tf.KeySet.generate(params, rotations=None)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Galois key"):
        blocks.block_dense(he_tf.encrypt(keys.public, layout.pack(x), secret=keys.secret), layout, w, b)


# --- client and server ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served():
    x, w, b = _data(569, 30, 1, seed=3)
    model = hm.from_weights(w, b, "sigmoid", data=x)
    client = hm.Client.generate(model.key_requirements(samples=len(x)))
    return x, model, client, hm.Server(client.public_context, model)


def test_client_and_server_at_the_packing_limit(served):
    x, model, client, server = served
    request = client.encrypt(x)
    assert len(request) < 600_000
    _, header, _ = craft.wire_split(request)
    # A linear model: 569 samples folded two per slot into 285 rows, 6 blocks of them per ciphertext.
    assert header["tensor"]["ciphertext_shape"] == [1, 5] and header["meta"] == {"samples": 285, "folded": 569}
    response = server.handle(request)
    prediction = client.decrypt(response)
    logits = model.logits_plain(x)
    np.testing.assert_allclose(prediction.raw, logits, atol=ATOL)
    np.testing.assert_array_equal(prediction.raw > 0, logits > 0)
    _, header, _ = craft.wire_split(response)
    assert header["tensor"]["level"] == 0 and header["tensor"]["ciphertext_shape"] == [1, 1]


def test_other_batch_sizes_go_unpacked(served):
    x, model, client, server = served
    prediction = client.decrypt(server.handle(client.encrypt(x[:100])))
    np.testing.assert_allclose(prediction.raw, model.logits_plain(x[:100]), atol=ATOL)


def test_key_requirements_round_trip(served):
    x, model, _, _ = served
    requirements = model.key_requirements(samples=len(x))
    assert requirements.rotations == (285, 570, 855, 1140, 1425) and requirements.blocks == 6
    assert hm.KeyRequirements.from_json(requirements.to_json()) == requirements


@pytest.mark.parametrize("meta", [{"samples": 7}, {"samples": 1 << 31}, {"samples": 569 * 10}, {"samples": True},
                                  {"samples": 0}, {"samples": "569"}])
def test_server_refuses_a_bad_block_layout(served, meta):
    x, _, client, server = served
    with pytest.raises(wire.WireFormatError):
        server.handle(craft.wire_with_meta(client.encrypt(x), **meta))


@pytest.mark.parametrize("meta", [{"outputs": 2}, {"outputs": 1 << 31}, {"samples": 1 << 20, "outputs": 1},
                                  {"outputs": None}])
def test_client_refuses_a_bad_packed_response(served, meta):
    x, _, client, server = served
    response = server.handle(client.encrypt(x))
    with pytest.raises(wire.WireFormatError):
        client.decrypt(craft.wire_with_meta(response, **meta))


def test_model_without_block_layout_refuses_it(params):
    x, w, b = _data(200, 6, 2)
    deep = hm.from_steps([hm.Dense(w, b), hm.Square(), hm.Dense(np.ones((2, 1)), np.zeros(1))], data=x)
    assert not deep.blockable and not deep.block_layout(200).packed
    assert deep.key_requirements(samples=200).blocks == 1
