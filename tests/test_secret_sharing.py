"""SecretSharing protocol: ops against NumPy, eagerly and in tf.function, and who received what.

Tolerances: inputs and public reals are encoded to the nearest multiple of 2^-f (f = 16), which the
reference reproduces exactly (`q`), so additions are exact and each truncation (one per product, matmul
or public real multiplier) adds at most one ulp 2^-f. Horner's rule multiplies earlier truncation
errors by |x|, so a polynomial with n coefficients errs by at most ulp * sum_{k < n-1} |x|^k.
Magnitudes stay below 2^4, where a truncation fails with probability below 2^-20 per element.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import recording
from he_tf.protocol.players import UnknownPlayerError
from he_tf.protocol.secret_sharing import SecretSharing, SharedTensor, default_uniform

F = 16
ULP = 2.0**-F
PLAYERS = ["alice", "bob", "dealer", "client"]


pytestmark = pytest.mark.usefixtures("local_players")


@pytest.fixture
def ss() -> SecretSharing:
    return SecretSharing(players=("alice", "bob"), dealer="dealer", fraction_bits=F)


def q(x) -> np.ndarray:
    """The fixed-point encoding's value (round half to even, like the protocol)."""
    return np.round(np.asarray(x, np.float64) * 2.0**F) / 2.0**F


def untruncated(x, y):
    return x.protocol.multiply(x, y, truncate=False)


RNG = np.random.default_rng(0)
X, Y = RNG.uniform(-3, 3, (4, 3)), RNG.uniform(-3, 3, (4, 3))
W, V = RNG.uniform(-3, 3, (3, 2)), RNG.uniform(-3, 3, (3,))
PUBLIC = RNG.uniform(-3, 3, (3,))

# name: (fn(x, y, w, v) on private tensors, NumPy reference on the encoded inputs, error budget in ulps)
CASES = {
    "add": (lambda x, y, w, v: x + y, lambda: q(X) + q(Y), 0),
    "add public broadcast": (lambda x, y, w, v: x + PUBLIC, lambda: q(X) + q(PUBLIC), 0),
    "add private broadcast": (lambda x, y, w, v: v + x, lambda: q(V) + q(X), 0),
    "public minus private": (lambda x, y, w, v: 1.5 - x, lambda: 1.5 - q(X), 0),
    "subtract": (lambda x, y, w, v: tf.subtract(x, y), lambda: q(X) - q(Y), 0),
    "negative": (lambda x, y, w, v: -x, lambda: -q(X), 0),
    "multiply": (lambda x, y, w, v: x * y, lambda: q(X) * q(Y), 1),
    "multiply broadcast": (lambda x, y, w, v: x * v, lambda: q(X) * q(V), 1),
    "multiply public real": (lambda x, y, w, v: x * PUBLIC, lambda: q(X) * q(PUBLIC), 1),
    "multiply public integer": (lambda x, y, w, v: 3 * x, lambda: 3 * q(X), 0),
    "square": (lambda x, y, w, v: tf.square(x), lambda: q(X) ** 2, 1),
    "x * x": (lambda x, y, w, v: x * x, lambda: q(X) ** 2, 1),
    "matmul": (lambda x, y, w, v: x @ w, lambda: q(X) @ q(W), 1),
    "matmul public": (lambda x, y, w, v: tf.matmul(x, W), lambda: q(X) @ q(W), 1),
    "public matmul": (lambda x, y, w, v: W.T @ tf.transpose(x), lambda: q(W).T @ q(X).T, 1),
    "matmul transpose_b": (lambda x, y, w, v: tf.matmul(x, y, transpose_b=True), lambda: q(X) @ q(Y).T, 1),
    "reduce_sum": (lambda x, y, w, v: tf.reduce_sum(x, axis=0), lambda: q(X).sum(0), 0),
    "reduce_sum keepdims": (lambda x, y, w, v: he_tf.reduce_sum(x, 1, True),
                            lambda: q(X).sum(1, keepdims=True), 0),
    "reshape": (lambda x, y, w, v: tf.reshape(x, [3, 4]) @ tf.reshape(y, [4, 3]),
                lambda: q(X).reshape(3, 4) @ q(Y).reshape(4, 3), 1),
    # Products kept at 2f fraction bits (no truncation), summed, then truncated once.
    "deferred truncation": (lambda x, y, w, v: untruncated(x, y).protocol.truncate(
                                untruncated(x, y) + untruncated(y, x)), lambda: 2 * q(X) * q(Y), 1),
    "mixed fraction bits": (lambda x, y, w, v: untruncated(x, y) + x, lambda: q(X) * q(Y) + q(X), 0),
    # The product's truncation error (1 ulp) goes through @ w (|w| < 3, 3 terms) and a sum of 2: 2 * (9 + 1).
    "expression": (lambda x, y, w, v: tf.reduce_sum((x * y + 1.0) @ w, axis=1) - 1,
                   lambda: ((q(X) * q(Y) + 1.0) @ q(W)).sum(1) - 1, 20),
}


def inputs(ss: SecretSharing):
    """x from the client, y from bob, w and v from alice: private to the computation."""
    with ss:
        return tuple(he_tf.define_private_input(player, lambda value=value: value)
                     for player, value in [("client", X), ("bob", Y), ("alice", W), ("alice", V)])


@pytest.mark.parametrize("name", list(CASES))
def test_ops_against_numpy_eager_and_in_tf_function(ss, name):
    fn, reference, ulps = CASES[name]
    args = inputs(ss)
    graph = tf.function(lambda *a: ss.reveal(fn(*a), "client"))
    for result in (ss.reveal(fn(*args), "client"), graph(*args)):
        assert result.dtype == tf.float64
        np.testing.assert_allclose(result.numpy(), reference(), rtol=0, atol=ulps * ULP + 1e-12, err_msg=name)


def test_public_integer_multiplier_is_exact(ss):
    x, *_ = inputs(ss)
    z = 3 * x
    assert z.fraction_bits == F  # no truncation needed
    np.testing.assert_array_equal(ss.reveal(z, "client").numpy(), 3 * q(X))


def test_polyval_horner_within_stated_bound(ss):
    coeffs = [0.25, -0.5, 1.0, 2.0]  # degree 3: 2 triples, 3 truncations
    x, *_ = inputs(ss)
    with ss:
        got = he_tf.define_output("client", None, tf.math.polyval(coeffs, x)).numpy()
        constant = ss.reveal(ss.polyval([2.5], x), "client").numpy()
    bound = ULP * sum(np.abs(q(X)) ** k for k in range(len(coeffs) - 1))
    assert np.all(np.abs(got - np.polyval(q(coeffs), q(X))) <= bound + 1e-12)
    np.testing.assert_array_equal(constant, np.full(X.shape, 2.5))


def test_output_fn_runs_on_the_revealed_value(ss):
    x, *_ = inputs(ss)
    out = he_tf.define_output("client", lambda v: tf.reduce_max(v), x)
    assert abs(out.numpy() - q(X).max()) == 0


def share_keys(entries):
    """(receiver, value label) -> share indices received, for shares of private values."""
    got: dict = {}
    for e in entries:
        if e.kind == "share" and not e.label.startswith("output"):
            value, index = e.label.rsplit("[share ", 1)
            got.setdefault((e.receiver, value), set()).add(int(index.rstrip("]")))
    return got


@pytest.mark.parametrize("mode", ["eager", "tf.function"])
def test_transcript_no_player_sees_both_shares_and_the_dealer_sees_nothing(ss, mode):
    def compute(x, y, w):
        return ss.reveal(tf.math.polyval([1.0, 2.0, 3.0], (x * y) @ w) + tf.square(x) @ w, "client")

    with recording() as t:
        x, y, w, _ = inputs(ss)
        (tf.function(compute) if mode == "tf.function" else compute)(x, y, w)
    assert t.received_by("dealer") == []
    keys = share_keys(t.entries)
    assert keys and all(len(indices) == 1 for indices in keys.values()), keys
    for (receiver, _), indices in keys.items():
        assert receiver in ("alice", "bob") and indices == {("alice", "bob").index(receiver)}
    # Inputs: the owner places its plaintext only on itself; the others get one share each.
    plain = [(e.receiver, e.origin) for e in t.entries if e.kind == "plaintext"]
    assert sorted(plain) == [("alice", "alice"), ("alice", "alice"), ("bob", "bob"), ("client", "client")]
    from_client = {e.label.split("[")[0] for e in t.received_by("bob", "share") if e.origin == "client"}
    assert from_client == {"input#0"}
    # Five triples (x * y, @ w, Horner's private step, the square pair, @ w): one share per party each.
    triples = [e for e in t.entries if "triple" in e.label]
    assert len(triples) == 10 and all(e.sender == "dealer" for e in triples)
    # Each opening sends one masked share each way; the output goes to the client only.
    masked = [e for e in t.entries if e.kind == "masked"]
    assert len(masked) == 10
    assert {(e.sender, e.receiver) for e in masked} == {("alice", "bob"), ("bob", "alice")}
    outputs = [e for e in t.entries if e.label.startswith("output")]
    assert [(e.receiver, e.sender) for e in outputs] == [("client", "alice"), ("client", "bob")]


def test_a_party_revealing_to_itself_receives_only_the_other_share(ss):
    x, *_ = inputs(ss)
    with recording() as t:
        np.testing.assert_array_equal(ss.reveal(x, "alice").numpy(), q(X))
    assert [(e.receiver, e.sender, e.label) for e in t.entries] == [("alice", "bob", "output#4[share 1]")]


def test_shares_are_uniform_looking_and_change_every_run(ss):
    x, *_ = inputs(ss)
    again = ss.define_private_input("client", lambda: X)
    assert not np.array_equal(x.share0.numpy(), again.share0.numpy())  # fresh masks
    # A share is a uniform ring element, not the encoding: its top bits are as often set as not.
    bits = np.unpackbits(np.concatenate([x.share0.numpy(), x.share1.numpy()]).view(np.uint8))
    assert 0.4 < bits.mean() < 0.6


def test_reveal_is_restricted(ss):
    x, *_ = inputs(ss)
    with pytest.raises(ValueError, match="'dealer' may not receive outputs"):
        ss.reveal(x, "dealer")
    with pytest.raises(UnknownPlayerError, match="unknown player 'eve'"):
        ss.reveal(x, "eve")
    only_client = SecretSharing(players=("alice", "bob"), dealer="dealer", outputs=["client"])
    y = only_client.define_private_input("alice", lambda: X)
    with pytest.raises(ValueError, match="'bob' may not receive outputs; allowed: client"):
        he_tf.define_output("bob", None, y)
    with pytest.raises(ValueError, match="dealer 'dealer' may not receive outputs"):
        SecretSharing(players=("alice", "bob"), dealer="dealer", outputs=["dealer"])


def test_construction_errors():
    with pytest.raises(ValueError, match="two distinct players and a third player as dealer"):
        SecretSharing(players=("alice", "alice"), dealer="dealer")
    with pytest.raises(ValueError, match="two distinct players"):
        SecretSharing(players=("alice", "bob"), dealer="bob")
    with pytest.raises(ValueError, match="fraction_bits must be an integer in"):
        SecretSharing(players=("alice", "bob"), dealer="dealer", fraction_bits=40)
    with pytest.raises(UnknownPlayerError):
        SecretSharing(players=("alice", "carol"), dealer="dealer")


def test_bad_inputs_raise_clear_errors(ss):
    x, y, w, _ = inputs(ss)
    with pytest.raises(ValueError, match=r"not below 2\^31 .* scale the inputs down"):
        ss.define_private_input("client", lambda: [1e12])
    with recording() as t, pytest.raises(ValueError, match=r"shapes \(4, 3\) and \(3, 2\) do not broadcast"):
        x * w
    assert not t.entries  # refused before the dealer sent anything
    with pytest.raises(ValueError, match=r"contracted dimensions differ \(3 vs 4\)"):
        x @ y
    with pytest.raises(ValueError, match="truncate the operands first"):
        ss.multiply(ss.multiply(x, y, truncate=False), ss.multiply(x, y, truncate=False), truncate=False)
    with pytest.raises(ValueError, match=r"can drop 0..16 fraction bits, got 17"):
        ss.truncate(x, 17)
    with pytest.raises(ValueError, match="at least one coefficient"):
        ss.polyval([], x)
    other = SecretSharing(players=("alice", "bob"), dealer="dealer")
    z = other.define_private_input("client", lambda: X)
    with pytest.raises(TypeError, match="mixes"):
        x + z
    with pytest.raises(TypeError, match="expected a private tensor of"):
        ss.negative(z)
    with pytest.raises(TypeError, match="not supported on private tensors"):
        tf.exp(x)
    assert isinstance(x, SharedTensor) and x.shape == (4, 3) and x.dtype == tf.float64


def test_private_variable_is_shared_like_an_input(ss):
    with ss, recording() as t:
        w = he_tf.define_private_variable(tf.constant(W), owner="alice")
        lazy = he_tf.define_private_variable(lambda: W, owner="bob")
    np.testing.assert_array_equal(ss.reveal(w, "client").numpy(), q(W))
    np.testing.assert_array_equal(ss.reveal(lazy, "client").numpy(), q(W))
    assert [(e.receiver, e.kind) for e in t.entries[:3]] == [("alice", "plaintext"), ("alice", "share"),
                                                             ("bob", "share")]


def test_randomness_is_drawn_by_the_right_player(ss):
    draws = []

    def uniform(player, shape):
        draws.append(player)
        return default_uniform(player, shape)

    custom = SecretSharing(players=("alice", "bob"), dealer="dealer", uniform=uniform)
    x, y = custom.define_private_input("client", lambda: X), custom.define_private_input("bob", lambda: Y)
    assert draws == ["client", "bob"]  # the input's owner masks it
    np.testing.assert_allclose(custom.reveal(x * y, "client").numpy(), q(X) * q(Y), atol=ULP)
    assert draws[2:] == ["dealer"] * 5  # a, b and the three share masks of the triple
    graph = tf.function(lambda x, y: ss.reveal(x * y, "client")).get_concrete_function(*inputs(ss)[:2]).graph
    assert sum(op.type == "HeRandomRing" for op in graph.get_operations()) == 5  # the CSPRNG by default
