"""Exact comparisons under secret sharing: greater, less, relu, maximum, reduce_max, argmax, max pooling.

Every result is compared with NumPy for equality (no tolerance): inputs are on the fixed-point grid
(``q``), so the encoding is exact, and the protocol computes the exact sign of each difference and
multiplies by the 0/1 bit without truncating. Ties: argmax gives the first maximal index, as NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import recording
from he_tf.protocol.providers import Dealer, SeededDealer
from he_tf.protocol.secret_sharing import SecretSharing, SharedTensor, default_uniform
from test_sharing_hostile import crossings, separate_devices  # noqa: F401  (separate_devices: a fixture)

PLAYERS = ["alice", "bob", "dealer", "client"]
PROVIDERS = {"dealer": Dealer, "seeded dealer": SeededDealer}


pytestmark = pytest.mark.usefixtures("local_players")


def sharing(provider=Dealer, **options) -> SecretSharing:
    return SecretSharing(players=("alice", "bob"), dealer="dealer", provider=provider(), **options)


def edge_values(ss: SecretSharing) -> np.ndarray:
    """0, +-1 and +-2 ulps, ordinary values and the largest values below the encoding's limit."""
    ulp, limit = ss.fixed_point.ulp, ss.fixed_point.max_magnitude
    step = max(ulp, float(np.spacing(limit)))  # the smallest step below the limit in both grids
    near = [0.0, ulp, -ulp, 2 * ulp, -2 * ulp, 0.75, -0.75, 3.0, -3.0, 1e3, -1e3]
    far = [limit - step, -(limit - step), limit / 2, -limit / 2, limit - 2 * step, -(limit - 2 * step)]
    return np.array(near + far)


def shared(ss, x, owner="client"):
    return ss.define_private_input(owner, lambda: x)


def reveal(ss, t) -> np.ndarray:
    return ss.reveal(t, "client").numpy()


@pytest.mark.parametrize("bits", [(16, 16), (24, 4)])
def test_greater_and_less_against_numpy_near_zero_and_the_range_limits(bits):
    ss = sharing(fraction_bits=bits[0], headroom_bits=bits[1])
    values = edge_values(ss)
    x, y = np.meshgrid(values, values, indexing="ij")  # every pair, as a (17, 17) tensor
    xs, ys = shared(ss, x), shared(ss, y, owner="bob")
    for got, want in [(ss.greater(xs, ys), x > y), (ss.less(xs, ys), x < y),
                      (ss.greater(xs, 0.0), x > 0), (ss.less(xs, 0.0), x < 0),
                      (ss.greater(xs, y), x > y), (ss.less(x, ys), x < y)]:
        assert got.fraction_bits == ss.fraction_bits  # fixed point: multiplies like any value
        np.testing.assert_array_equal(reveal(ss, got), want.astype(np.float64))
    np.testing.assert_array_equal(reveal(ss, ss.relu(xs)), np.maximum(x, 0))
    np.testing.assert_array_equal(reveal(ss, ss.maximum(xs, ys)), np.maximum(x, y))


def test_the_ops_through_tensorflow_and_operators_with_several_axes():
    ss = sharing()
    rng = np.random.default_rng(1)
    x, y = rng.integers(-40, 40, (2, 3, 4)) / 8.0, rng.integers(-40, 40, (3, 1)) / 8.0
    with ss:
        xs, ys = shared(ss, x), shared(ss, y, owner="bob")
        cases = [
            (tf.math.greater(xs, ys), x > y), (xs > ys, x > y), (0.5 > xs, 0.5 > x), (xs < 0.5, x < 0.5),
            (tf.math.less(y, xs), y < x), (he_tf.greater(xs, 1.0), x > 1.0),
            (tf.nn.relu(xs), np.maximum(x, 0)), (he_tf.relu(ys), np.maximum(y, 0)),
            (tf.maximum(xs, ys), np.maximum(x, y)), (tf.math.maximum(0.25, xs), np.maximum(0.25, x)),
            (tf.reduce_max(xs, axis=1), x.max(1)), (tf.math.argmax(xs, axis=2), x.argmax(2)),
            (tf.argmax(xs), x.argmax(0)), (tf.reduce_max(xs, axis=tf.constant([0, 2])), x.max((0, 2))),
            (tf.math.argmax(xs, axis=tf.constant(1), output_type=tf.int32), x.argmax(1)),
        ]
        for got, want in cases:
            np.testing.assert_array_equal(reveal(ss, got), np.asarray(want, np.float64))
        # The 0/1 result is a fixed-point value: it masks and counts like any other.
        np.testing.assert_array_equal(reveal(ss, (xs > 0.0) * xs), np.where(x > 0, x, 0))
        np.testing.assert_array_equal(reveal(ss, tf.reduce_sum(tf.math.less(xs, 0.0))), np.sum(x < 0))
        with pytest.raises(TypeError, match="argmax gives integer indices; output_type tf.float32"):
            tf.math.argmax(xs, output_type=tf.float32)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_inside_tf_function_with_static_and_dynamic_shapes(provider):
    ss = sharing(PROVIDERS[provider])

    def static(x, y):
        xs, ys = shared(ss, x), shared(ss, y, owner="bob")
        return [ss.reveal(t, "client") for t in (ss.greater(xs, ys), ss.relu(xs))]

    def dynamic(x, y):  # the batch size is known at run time only: the dealer receives the shapes
        xs, ys = shared(ss, x), shared(ss, y, owner="bob")
        return [ss.reveal(t, "client") for t in (ss.maximum(xs, ys), ss.argmax(xs, 1))]

    rng = np.random.default_rng(2)
    x, y = rng.integers(-20, 20, (5, 3)) / 4.0, rng.integers(-20, 20, (5, 3)) / 4.0
    for got, want in zip(tf.function(static)(x, y), [x > y, np.maximum(x, 0)]):
        np.testing.assert_array_equal(got.numpy(), want.astype(np.float64))
    run = tf.function(dynamic, input_signature=[tf.TensorSpec([None, 3], tf.float64)] * 2)
    for n in (5, 2):  # two batch sizes, one trace
        for got, want in zip(run(x[:n], y[:n]), [np.maximum(x[:n], y[:n]), x[:n].argmax(1)]):
            np.testing.assert_array_equal(got.numpy(), want.astype(np.float64))
    assert run.experimental_get_tracing_count() == 1


def test_reduce_max_over_axes_with_ties():
    ss = sharing()
    x = np.random.default_rng(3).integers(-3, 3, (3, 5, 4)) / 2.0  # few distinct values: many ties
    xs = shared(ss, x)
    for axis in (None, 0, 1, 2, -1, [0, 2], (1, 2), [0, 1, 2], []):
        for keepdims in (False, True):
            want = x.max(axis=tuple(np.atleast_1d(axis)) if axis is not None else None, keepdims=keepdims) \
                if axis != [] else x
            got = reveal(ss, ss.reduce_max(xs, axis, keepdims))
            assert got.shape == np.shape(want), (axis, keepdims)
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="axis 3 is out of range for rank 3"):
        ss.reduce_max(xs, 3)


def test_argmax_gives_the_first_maximal_index_and_one_hot():
    ss = sharing()
    rng = np.random.default_rng(4)
    x = rng.integers(-2, 2, (3, 7, 6)).astype(np.float64)  # ties in almost every row
    x[0, :, 0] = 1.0  # a column of equal maxima
    xs = shared(ss, x)
    for axis in (0, 1, 2, -1):
        np.testing.assert_array_equal(reveal(ss, ss.argmax(xs, axis)), x.argmax(axis))
        onehot = np.moveaxis(np.eye(x.shape[axis])[x.argmax(axis)], -1, axis)
        np.testing.assert_array_equal(reveal(ss, ss.argmax(xs, axis, one_hot=True)), onehot)
    with pytest.raises(TypeError, match="axis must be one integer"):
        ss.argmax(xs, [0, 1])


def test_max_pooling_2x2_by_reshape_and_reduce_max():
    ss = sharing()
    x = np.random.default_rng(5).integers(-100, 100, (2, 8, 8, 3)) / 16.0
    want = x.reshape(2, 4, 2, 4, 2, 3).max(axis=(2, 4))
    with ss:
        pool = tf.function(lambda v: tf.reduce_max(tf.reshape(v, [2, 4, 2, 4, 2, 3]), axis=[2, 4]))
        got = reveal(ss, pool(shared(ss, x)))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(tf.nn.max_pool2d(x, 2, 2, "VALID").numpy(), want)  # the reference itself


def test_unknown_reduced_sizes_are_refused_when_tracing():
    ss = sharing()

    @tf.function(input_signature=[tf.TensorSpec([2, None], tf.float64)])
    def fn(x):
        return ss.reduce_max(shared(ss, x), axis=1).share0

    with pytest.raises(ValueError, match="size of axis 1 must be known when tracing"):
        fn.get_concrete_function()


@pytest.mark.parametrize("provider, batch", [("dealer", 2), ("seeded dealer", None)])
def test_players_see_shares_and_masked_openings_only_and_the_dealer_nothing(
        separate_devices, provider, batch):  # noqa: F811
    """Traced with every player on its own device: who received what, and every crossing recorded."""
    ss = sharing(PROVIDERS[provider])

    def fn(x, y):
        xs, ys = shared(ss, x), shared(ss, y, owner="bob")
        top = ss.add(ss.reduce_max(ss.maximum(xs, ys), 1), ss.argmax(ss.relu(xs), 1))
        return ss.reveal(ss.multiply(top, ss.reduce_sum(ss.greater(xs, 0.0), 1)), "client")

    with recording() as t:
        graph = tf.function(fn).get_concrete_function(*[tf.TensorSpec([batch, 3], tf.float64)] * 2).graph
    assert crossings(graph, t) == []
    if batch is None:  # run-time shapes: the dealer receives them (int32 vectors, from the first party) only
        assert {e.kind for e in t.received_by("dealer")} == {"shape"}
        assert all(e.sender == "alice" and e.value.dtype == tf.int32 for e in t.received_by("dealer"))
    else:
        assert t.received_by("dealer") == []  # static shapes: the dealer receives nothing at all
    for party in ("alice", "bob"):
        received = [e for e in t.received_by(party) if e.sender is not None]
        assert {e.kind for e in received} <= {"share", "masked", "seed"}, {e.kind for e in received}
        # A party's plaintext is only ever its own input.
        assert all(e.origin == party for e in t.received_by(party, "plaintext"))
        # It holds one share of each value only: never both shares of anything it received.
        labels = {e.label for e in received if e.kind == "share"}
        assert not any(label.replace("[share 0]", "[share 1]") in labels
                       for label in labels if "[share 0]" in label)
    masked = [e for e in t if e.kind == "masked"]
    # Each comparison opens 7 AND rounds, then its bit (greater) or its bit and the selected value (relu,
    # maximum, the tournaments) in both directions; bits travel as single bytes.
    bits = [e.value for e in masked if "[bit]" in e.label]
    selects = [e.value for e in masked if "[select]" in e.label]
    assert len(bits) == 2 and len(selects) == 2 * (1 + 2 + 1 + 2)  # maximum, reduce_max over 3, relu, argmax
    assert all(b.dtype == tf.uint8 for b in bits) and all(s[0].dtype == tf.uint8 for s in selects)
    assert len([e for e in masked if "[and " in e.label]) == 2 * 7 * 7
    assert all(e.sender in ("alice", "bob") and e.receiver in ("alice", "bob") for e in masked)
    dealt = {e.sender for e in t if e.kind in ("share", "seed") and e.receiver in ("alice", "bob")}
    assert "dealer" in dealt


def test_the_sign_is_exact_for_every_share_split():
    """The adder's carry chain: shares that wrap around 2^64 in every way, set by the `uniform` hook."""
    values = np.array([0, 1, -1, 2**46, -(2**46), 12345, -12345], dtype=np.int64)
    masks = np.array([0, -1, 2**63 - 1, -(2**63), 1, 2**62, -(2**62) - 1], dtype=np.int64)  # share 0
    for shift in range(len(masks)):
        rolled = np.roll(masks, shift)
        draws = {"client": tf.constant(rolled)}

        def uniform(player, shape, draws=draws):
            fixed = draws.get(player)
            return fixed if fixed is not None and tf.TensorShape(shape) == fixed.shape else \
                default_uniform(player, shape)

        ss = SecretSharing(players=("alice", "bob"), dealer="dealer", uniform=uniform)
        xs = shared(ss, values / 2.0**16)
        assert np.array_equal(xs.share0.numpy(), rolled)
        np.testing.assert_array_equal(reveal(ss, ss.less(xs, 0.0)), (values < 0).astype(np.float64))
        np.testing.assert_array_equal(reveal(ss, ss.greater(xs, 0.0)), (values > 0).astype(np.float64))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_sign_of_every_kind_of_ring_value(provider):
    """Bit 63 of share0 + share1 mod 2^64, for uniform shares and for the carry chain's extremes."""
    ss = sharing(PROVIDERS[provider])
    rng = np.random.default_rng(7)
    s0 = rng.integers(-2**63, 2**63, 20000, dtype=np.int64, endpoint=False)
    s1 = rng.integers(-2**63, 2**63, 20000, dtype=np.int64, endpoint=False)
    extremes = np.array([0, -1, 1, 2**63 - 1, -2**63, 2**62, -2**62], dtype=np.int64)
    e0, e1 = np.meshgrid(extremes, extremes)
    s0, s1 = np.concatenate([s0, e0.ravel()]), np.concatenate([s1, e1.ravel()])
    value = s0 + s1  # wraps mod 2^64, as the ring does
    x = SharedTensor(tf.constant(s0), tf.constant(s1), 0, ss.key)
    got = ss.reveal(ss._sign_bit(x, "sign"), "client").numpy()
    np.testing.assert_array_equal(got, (value < 0).astype(np.float64))


@pytest.mark.parametrize("op, online, dealt", [("greater", 110, 180), ("relu", 126, 212)])
def test_rounds_and_bytes_of_one_comparison(op, online, dealt):
    """8 rounds; per element 54 bytes each way for the 12 ANDs (one on 64 bits, two each on 32, 16, 8, 4 and
    2, one on 1) plus the bit (1 byte) or the selection (1 + 8); dealt: 81 bytes per party plus 9 (bit)
    or 25 (selection)."""
    ss = sharing()
    x = shared(ss, np.linspace(-3.0, 3.0, 60).reshape(3, 4, 5))
    run = {"greater": lambda: ss.greater(x, 0.0), "relu": lambda: ss.relu(x)}[op]
    with recording() as t:
        run()
    edges = t.bytes_per_edge()
    assert len({e.label.rsplit("[masked share", 1)[0] for e in t if e.kind == "masked"}) == 8
    assert edges[("alice", "bob")] == edges[("bob", "alice")] == online // 2 * 60
    assert edges[("dealer", "alice")] + edges[("dealer", "bob")] == dealt * 60
    assert set(edges) == {("alice", "bob"), ("bob", "alice"), ("dealer", "alice"), ("dealer", "bob")}
