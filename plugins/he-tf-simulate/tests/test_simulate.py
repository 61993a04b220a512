"""The simulate protocol: found by its entry point, same levels and errors as CKKS, results within CKKS's error."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import CKKS

RNG = np.random.default_rng(7)
X = RNG.uniform(-1, 1, size=(64, 5))
W = RNG.uniform(-1, 1, size=(5, 2))
PARAMS = he_tf.Params.for_depth(4)  # matmul 1, polyval of degree 3: 3


@pytest.fixture(autouse=True)
def config():
    he_tf.set_config(he_tf.LocalConfig(["client", "server"]))


def program(protocol):
    """A small logistic model: matmul, bias, a degree-3 polynomial; and its level after."""
    with protocol:
        x = he_tf.define_private_input("client", lambda: X)
        y = tf.math.polyval([-0.004, 0.0, 0.197, 0.5], tf.matmul(x, W) + 0.25)
        return he_tf.define_output("client", None, y).numpy(), y.level


def exact():
    z = X @ W + 0.25
    return np.polyval([-0.004, 0.0, 0.197, 0.5], z)


def test_simulate_is_found_by_its_entry_point():
    (entry,) = [e for e in he_tf.protocol.available() if e.name == "simulate"]
    assert entry.distribution == "he-tf-simulate"
    assert type(he_tf.protocol.create("simulate", params=PARAMS)).__name__ == "Simulate"


def test_levels_and_results_match_real_ckks():
    ckks_values, ckks_level = program(CKKS(params=PARAMS, rotations=None))
    sim_values, sim_level = program(he_tf.protocol.create("simulate", params=PARAMS))
    assert sim_level == ckks_level == 0
    ckks_error = np.max(np.abs(ckks_values - exact()))
    sim_error = np.max(np.abs(sim_values - exact()))
    assert 0 < ckks_error < 1e-5
    # Independent errors of the same size: their difference stays within a few times CKKS's own.
    assert np.max(np.abs(sim_values - ckks_values)) <= 4 * ckks_error
    assert ckks_error / 10 < sim_error < 10 * ckks_error  # the noise model is of CKKS's size
    exact_values, _ = program(he_tf.protocol.create("simulate", params=PARAMS, noise=False))
    np.testing.assert_allclose(exact_values, exact(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: CKKS(params=he_tf.Params.for_depth(1), rotations=None),
                                  lambda: he_tf.protocol.create("simulate", params=he_tf.Params.for_depth(1))])
def test_the_same_trace_time_errors_as_ckks(make):
    protocol = make()
    with protocol:
        x = he_tf.define_private_input("client", lambda: X)
        with pytest.raises(ValueError, match=r"multiply needs 1 more multiplicative level\(s\) but the encrypted "
                                             r"operand is at level 0: this computation needs depth 2"):
            (x * 2.0) * 3.0
        with pytest.raises(TypeError, match="matmul of two encrypted tensors is not supported"):
            tf.matmul(x, tf.transpose(x))


def test_ops_it_lacks_are_refused_with_the_fix():
    with he_tf.protocol.create("simulate", params=PARAMS):
        x = he_tf.define_private_input("client", lambda: X)
        with pytest.raises(TypeError, match="roll is not supported by the simulate protocol .*which supports "
                                            "add, subtract, multiply, negative, square, matmul, reduce_sum"):
            tf.roll(x, 1, axis=0)
