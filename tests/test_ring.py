"""Z_2^64 arithmetic, fixed point, additive sharing, Beaver triples and share truncation.

Ring results are compared exactly with Python integers mod 2^64 (values drawn near +-2^63 so every op
wraps); fixed-point results are compared with NumPy on the decoded (exactly representable) inputs,
within 2^-f per truncation: the local truncation returns floor(z / 2^f) or one more, so each one
errs by less than one ulp. Hypothesis runs derandomized, so CI sees the same examples every run.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from he_tf.protocol import beaver, ring
from he_tf.protocol.fixed_point import FixedPoint

MOD = 2**64
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate), suppress_health_check=[HealthCheck.too_slow])


def signed(v: int) -> int:
    """Python int -> its residue mod 2^64 in [-2^63, 2^63)."""
    return (v + 2**63) % MOD - 2**63


def ints(t: tf.Tensor) -> list:
    return t.numpy().tolist()


def uniform(rng: np.random.Generator, shape) -> tf.Tensor:
    """Uniform ring elements (test randomness; the protocol layer uses a CSPRNG)."""
    return tf.constant(rng.integers(-2**63, 2**63, size=shape, dtype=np.int64))


# Near the wrap-around points, near zero, and anywhere.
RING = st.one_of(st.integers(2**63 - 2**20, 2**63 - 1), st.integers(-2**63, -2**63 + 2**20),
                 st.integers(-2**20, 2**20), st.integers(-2**63, 2**63 - 1))
VECTORS = st.integers(1, 8).flatmap(lambda n: st.tuples(st.lists(RING, min_size=n, max_size=n),
                                                        st.lists(RING, min_size=n, max_size=n)))

# One trace each (unknown shapes), to check the same functions inside a graph.
GRAPH_BINARY = {name: tf.function(fn, input_signature=[tf.TensorSpec(None, tf.int64)] * 2)
                for name, fn in [("add", ring.add), ("sub", ring.sub), ("mul", ring.mul)]}
GRAPH_MATMUL = tf.function(ring.matmul, input_signature=[tf.TensorSpec([None, None], tf.int64)] * 2)


# ---- ring arithmetic --------------------------------------------------------------------------------

@SETTINGS
@given(VECTORS)
def test_elementwise_ops_wrap_like_python_ints_mod_2_64(pair):
    xs, ys = pair
    x, y = tf.constant(xs, tf.int64), tf.constant(ys, tf.int64)
    expected = {"add": [signed(a + b) for a, b in zip(xs, ys)],
                "sub": [signed(a - b) for a, b in zip(xs, ys)],
                "mul": [signed(a * b) for a, b in zip(xs, ys)]}
    for name, want in expected.items():
        assert ints(getattr(ring, name)(x, y)) == want, name
        assert ints(GRAPH_BINARY[name](x, y)) == want, f"{name} in tf.function"
    assert ints(ring.neg(x)) == [signed(-a) for a in xs]
    assert ints(ring.reduce_sum(x)) == signed(sum(xs))


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.data())
def test_matmul_wraps_like_python_ints_mod_2_64(m, k, n, data):
    a = [[data.draw(RING) for _ in range(k)] for _ in range(m)]
    b = [[data.draw(RING) for _ in range(n)] for _ in range(k)]
    want = [[signed(sum(a[i][t] * b[t][j] for t in range(k))) for j in range(n)] for i in range(m)]
    ta, tb = tf.constant(a, tf.int64), tf.constant(b, tf.int64)
    assert ints(ring.matmul(ta, tb)) == want
    assert ints(GRAPH_MATMUL(ta, tb)) == want
    assert ints(ring.matmul(tf.transpose(ta), tb, transpose_a=True)) == want
    assert ints(ring.reduce_sum(ta, axis=1)) == [signed(sum(row)) for row in a]


def test_large_and_batched_matmul_are_exact():
    # Large enough for Eigen's blocked, multi-threaded kernel; NumPy's uint64 matmul wraps mod 2^64.
    rng = np.random.default_rng(0)
    a, b = uniform(rng, (3, 130, 70)), uniform(rng, (3, 70, 90))
    want = np.einsum("bij,bjk->bik", a.numpy().view(np.uint64), b.numpy().view(np.uint64))
    np.testing.assert_array_equal(ring.matmul(a, b).numpy().view(np.uint64), want)
    # A spot check of the NumPy reference itself against Python ints.
    assert int(want[1, 5, 7]) == sum(int(a[1, 5, t]) * int(b[1, t, 7]) for t in range(70)) % MOD


def test_as_ring_conversions_and_type_errors():
    assert ints(ring.as_ring([2**63, -1, 2**64 + 3, -2**63 - 1])) == [-2**63, -1, 3, 2**63 - 1]
    assert ints(ring.as_ring(np.array([2**64 - 1], np.uint64))) == [-1]
    assert ring.as_ring(np.int32(7)).dtype == tf.int64
    with pytest.raises(TypeError, match="FixedPoint.encode"):
        ring.as_ring([1.5])
    with pytest.raises(TypeError, match="tf.int64, got int32"):
        ring.add(tf.constant([1]), tf.constant([1], tf.int64))


def test_shape_and_argument_errors():
    x = tf.zeros([2, 3], tf.int64)
    with pytest.raises(ValueError, match=r"ring.add: shapes \(2, 3\) and \(2,\) do not broadcast"):
        ring.add(x, tf.zeros([2], tf.int64))
    with pytest.raises(ValueError, match=r"contracted dimensions differ \(3 vs 2\)"):
        ring.matmul(x, x)
    with pytest.raises(ValueError, match="rank >= 2"):
        ring.matmul(tf.zeros([3], tf.int64), x)
    with pytest.raises(ValueError, match="mask needs the secret's shape"):
        ring.share(x, tf.zeros([3], tf.int64))  # a broadcast mask would reuse randomness
    with pytest.raises(ValueError, match="party must be 0 or 1"):
        ring.truncate_share(x, 2, 16)
    with pytest.raises(ValueError, match=r"need an integer in \[0, 63\]"):
        ring.truncate_share(x, 0, 64)


# ---- fixed point ----------------------------------------------------------------------------------

@SETTINGS
@given(st.integers(1, 30), st.integers(0, 20), st.data())
def test_fixed_point_round_trip_within_half_an_ulp(f, h, data):
    fp = FixedPoint(f, headroom_bits=h)
    below = np.nextafter(fp.max_magnitude, 0)
    xs = data.draw(st.lists(st.floats(-below, below), min_size=1, max_size=8))
    x = np.array(xs)
    encoded = fp.encode(x)
    assert encoded.dtype == tf.int64
    # |x| * 2^f < 2^(63 - h): the rounding to an integer is the only error (float64 keeps it to ulp / 2
    # while |x| * 2^f < 2^53; above that float64's own spacing is the representable grid).
    tolerance = np.maximum(fp.ulp / 2, np.spacing(np.abs(x)))
    assert np.all(np.abs(fp.decode(encoded).numpy() - x) <= tolerance)
    assert ints(encoded) == [int(v) for v in np.round(x * 2.0**f)]


def test_fixed_point_bounds_and_errors():
    fp = FixedPoint(16)
    assert (fp.scale, fp.ulp, fp.max_magnitude, fp.product_limit) == (2**16, 2**-16, 2**31, 2**31)
    assert ints(fp.encode([2**31 - 2**-16, -(2**31 - 2**-16)])) == [2**47 - 1, -(2**47 - 1)]
    for bad in (2.0**31, -2.0**31, np.inf, np.nan):
        with pytest.raises(ValueError, match=r"not below 2\^31 .* fewer fraction bits .* scale the inputs"):
            fp.encode([0.0, bad])
    graph = tf.function(fp.encode)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"not below 2\^31"):
        graph(tf.constant([1.0, 3e9]))
    assert ints(graph(tf.constant([1.0, -0.5]))) == [2**16, -(2**15)]
    assert FixedPoint(20, headroom_bits=0).max_magnitude == 2.0**43
    for kwargs in ({"fraction_bits": 0}, {"fraction_bits": 31}, {"fraction_bits": 2.5},
                   {"headroom_bits": -1}, {"fraction_bits": 30, "headroom_bits": 33}):
        with pytest.raises(ValueError, match="fraction_bits|headroom_bits"):
            FixedPoint(**kwargs)
    with pytest.raises(TypeError, match="real values expected"):
        fp.encode(tf.constant(["1"]))


def test_truncation_failure_probability_bound():
    fp = FixedPoint(16)
    assert fp.truncation_failure_probability(2.0**8) == 2.0**-23  # ring magnitude 2^40
    assert fp.truncation_failure_probability(2.0**40) == 1.0


# ---- sharing, truncation ------------------------------------------------------------------------------

def test_share_and_reconstruct_exact():
    rng = np.random.default_rng(1)
    x, r = uniform(rng, (4, 5)), uniform(rng, (4, 5))
    x0, x1 = ring.share(x, r)
    assert ints(x0) == ints(r)  # party 0's share is the mask itself: uniform, independent of x
    assert ints(ring.reconstruct(x0, x1)) == ints(x)
    share = tf.function(ring.share)
    assert ints(ring.reconstruct(*share(x, r))) == ints(x)


def truncated(x: np.ndarray, r: np.ndarray, bits: int) -> np.ndarray:
    x0, x1 = ring.share(x, r)
    return ring.reconstruct(ring.truncate_share(x0, 0, bits), ring.truncate_share(x1, 1, bits)).numpy()


def test_truncation_is_floor_or_floor_plus_one_below_2_40():
    # For |x| < 2^40 a failure has probability below 2^-23 per element: 2^17 elements, 0 expected.
    rng = np.random.default_rng(2)
    n, bits = 2**17, 16
    x = rng.integers(-2**40 + 1, 2**40, size=n, dtype=np.int64)
    off = truncated(x, uniform(rng, n).numpy(), bits) - (x >> bits)
    assert set(np.unique(off)) <= {0, 1}
    assert 0.3 < np.mean(off) < 0.7  # both outcomes occur: the +1 is a real rounding, not a bias


def test_truncation_failure_rate_matches_x_over_2_64():
    # At |x| = 2^60 the first share falls within |x| of the wrap point 1 time in 16: the value is lost.
    rng = np.random.default_rng(3)
    n, bits = 2**16, 16
    x = np.where(rng.integers(0, 2, n) == 1, 2**60, -2**60).astype(np.int64)
    off = truncated(x, uniform(rng, n).numpy(), bits) - (x >> bits)
    failures = np.mean(np.abs(off) > 1)
    assert 0.8 / 16 < failures < 1.2 / 16, failures  # binomial sd is 0.0009 here
    assert np.all(np.isin(off[np.abs(off) <= 1], [0, 1]))


def test_public_shift_right_is_floor():
    x = np.array([-5, -4, 5, -2**63, 2**63 - 1], np.int64)
    assert ints(ring.shift_right(x, 1)) == [int(v) >> 1 for v in x]


# ---- Beaver triples -----------------------------------------------------------------------------

def beaver_product(rng, x, y, kind: str):
    """Run both parties' local steps; returns (z0, z1) with z0 + z1 = x * y (or x @ y)."""
    product = ring.mul if kind == "multiply" else ring.matmul
    x, y = ring.as_ring(x), ring.as_ring(y)
    a, b = uniform(rng, x.shape), uniform(rng, y.shape)
    masks = (uniform(rng, a.shape), uniform(rng, b.shape), uniform(rng, product(a, b).shape))
    dealer = beaver.multiply_triple if kind == "multiply" else beaver.matmul_triple
    t0, t1 = dealer(a, b, masks)
    (x0, x1), (y0, y1) = ring.share(x, uniform(rng, x.shape)), ring.share(y, uniform(rng, y.shape))
    (e0, f0), (e1, f1) = beaver.mask(x0, y0, t0), beaver.mask(x1, y1, t1)
    e, f = ring.reconstruct(e0, e1), ring.reconstruct(f0, f1)  # each party sends its e_i, f_i
    return beaver.combine(0, e, f, t0, kind), beaver.combine(1, e, f, t1, kind)


@pytest.mark.parametrize("kind, x_shape, y_shape", [
    ("multiply", (3, 4), (3, 4)), ("multiply", (3, 4), (4,)), ("multiply", (2, 1, 3), (5, 1)),
    ("matmul", (3, 4), (4, 2)), ("matmul", (2, 3, 4), (2, 4, 5)), ("matmul", (1, 7), (7, 1)),
])
def test_beaver_products_exact_in_the_ring(kind, x_shape, y_shape):
    rng = np.random.default_rng(4)
    x, y = uniform(rng, x_shape), uniform(rng, y_shape)
    z0, z1 = beaver_product(rng, x, y, kind)
    want = (ring.mul if kind == "multiply" else ring.matmul)(x, y)
    assert ints(ring.reconstruct(z0, z1)) == ints(want)


def test_beaver_square_exact_in_the_ring():
    rng = np.random.default_rng(5)
    x, a = uniform(rng, (4, 3)), uniform(rng, (4, 3))
    p0, p1 = beaver.square_pair(a, (uniform(rng, (4, 3)), uniform(rng, (4, 3))))
    x0, x1 = ring.share(x, uniform(rng, (4, 3)))
    e = ring.reconstruct(beaver.mask_square(x0, p0), beaver.mask_square(x1, p1))
    z = ring.reconstruct(beaver.combine_square(0, e, p0), beaver.combine_square(1, e, p1))
    assert ints(z) == ints(ring.mul(x, x))


@pytest.mark.parametrize("kind", ["multiply", "matmul"])
def test_beaver_fixed_point_against_numpy_within_one_ulp(kind):
    fp = FixedPoint(16)
    rng = np.random.default_rng(6)
    x, y = rng.uniform(-10, 10, (5, 8)), rng.uniform(-10, 10, (5, 8) if kind == "multiply" else (8, 3))
    ex, ey = fp.encode(x), fp.encode(y)
    z0, z1 = beaver_product(rng, ex, ey, kind)
    z = ring.reconstruct(ring.truncate_share(z0, 0, 16), ring.truncate_share(z1, 1, 16))
    xd, yd = fp.decode(ex).numpy(), fp.decode(ey).numpy()  # the inputs as encoded, exactly
    want = xd * yd if kind == "multiply" else xd @ yd
    np.testing.assert_allclose(fp.decode(z).numpy(), want, rtol=0, atol=fp.ulp)  # one truncation
    # Against the float inputs, the encoding's rounding (ulp / 2 per factor) adds up too.
    np.testing.assert_allclose(fp.decode(z).numpy(), x * y if kind == "multiply" else x @ y,
                               rtol=0, atol=fp.ulp + fp.ulp / 2 * 2 * 10 * 8)


def test_beaver_graph_equals_eager():
    rng = np.random.default_rng(7)
    args = [uniform(rng, s) for s in [(2, 3), (3, 4), (2, 3), (3, 4), (2, 4)]]
    x, y = uniform(rng, (2, 3)), uniform(rng, (3, 4))

    def run(x, y, a, b, ra, rb, rc):
        t0, _ = beaver.matmul_triple(a, b, (ra, rb, rc))
        e, f = beaver.mask(x, y, t0)
        return beaver.combine(0, e, f, t0, "matmul")

    assert ints(tf.function(run)(x, y, *args)) == ints(run(x, y, *args))


def test_beaver_errors():
    rng = np.random.default_rng(8)
    t0, _ = beaver.multiply_triple(uniform(rng, (2, 3)), uniform(rng, (2, 3)),
                                   [uniform(rng, (2, 3)) for _ in range(3)])
    with pytest.raises(ValueError, match=r"share x has shape \(3, 2\) but the triple's a has \(2, 3\)"):
        beaver.mask(uniform(rng, (3, 2)), uniform(rng, (2, 3)), t0)
    with pytest.raises(ValueError, match="need 3 masks"):
        beaver.multiply_triple(uniform(rng, (2,)), uniform(rng, (2,)), [uniform(rng, (2,))])
    with pytest.raises(ValueError, match="mask needs the secret's shape"):
        beaver.matmul_triple(uniform(rng, (2, 3)), uniform(rng, (3, 4)),
                             [uniform(rng, (2, 3)), uniform(rng, (3, 4)), uniform(rng, (2, 3))])
    with pytest.raises(ValueError, match="kind must be"):
        beaver.combine(0, t0.a, t0.b, t0, "divide")
