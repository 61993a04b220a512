"""Correlated-randomness providers: every SecretSharing op under the dealer and the seeded dealer, who saw
what, where each op ran, and the dealer's bytes.

Tolerances are those of ``test_secret_sharing.py`` (inputs encoded exactly as the reference ``q`` does,
one ulp 2^-16 per truncation, the error budget of each case in ``CASES``).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import recording
from he_tf.protocol.providers import SEED_SHAPE, Dealer, SeededDealer
from he_tf.protocol.secret_sharing import SecretSharing, default_uniform
from test_secret_sharing import CASES, PLAYERS, ULP, X, Y, inputs, q
from test_sharing_hostile import (DYNAMIC, PLAYER_OF, _canonical, crossings, products,  # noqa: F401
                                  separate_devices)

pytestmark = pytest.mark.usefixtures("local_players")  # test_secret_sharing's PLAYERS

PROVIDERS = {"dealer": Dealer, "seeded dealer": SeededDealer}


def sharing(provider, **options) -> SecretSharing:
    return SecretSharing(players=("alice", "bob"), dealer="dealer", provider=provider, **options)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("name", list(CASES))
def test_ops_against_numpy_under_each_provider(provider, name):
    ss = sharing(PROVIDERS[provider]())
    fn, reference, ulps = CASES[name]
    args = inputs(ss)
    graph = tf.function(lambda *a: ss.reveal(fn(*a), "client"))
    for result in (ss.reveal(fn(*args), "client"), graph(*args)):
        np.testing.assert_allclose(result.numpy(), reference(), rtol=0, atol=ulps * ULP + 1e-12, err_msg=name)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dynamic_shapes_under_each_provider(provider):
    """square, multiply and matmul with run-time shapes: (x^2 * (x + 1)) @ w, 3 truncations."""
    ss = sharing(PROVIDERS[provider]())
    rng = np.random.default_rng(3)
    x, w = rng.uniform(-2, 2, (5, 3)), rng.uniform(-2, 2, (3, 4))
    got = tf.function(products(ss), input_signature=DYNAMIC)(x, w).numpy()
    qx = q(x)
    # Truncation errors: 1 ulp on x^2, times |x + 1| < 3, plus 1 on the product; times the |w| sums (3 * 2),
    # plus 1 on the matmul.
    np.testing.assert_allclose(got, (qx**2 * (qx + 1)) @ q(w), rtol=0, atol=(4 * 6 + 1) * ULP)


def test_seeded_dealer_sends_party_0_only_seeds():
    ss = sharing(SeededDealer())
    with recording() as t:
        x, y, w, _ = inputs(ss)
        ss.reveal((x * y) @ w + tf.square(x) @ w, "client")  # 2 triples, 1 square pair, 1 more triple
    from_dealer = [e for e in t if e.sender == "dealer"]
    seeds = [e for e in from_dealer if e.receiver == "alice"]
    assert len(seeds) == 4 and {e.kind for e in seeds} == {"seed"}
    assert all(e.value.dtype == tf.int64 and e.value.shape == SEED_SHAPE and e.nbytes == 16 for e in seeds)
    assert len({tuple(e.value.numpy()) for e in seeds}) == 4  # a fresh seed for every triple
    to_bob = [e for e in from_dealer if e.receiver == "bob"]
    assert len(to_bob) == 4 and {e.kind for e in to_bob} == {"share"}
    assert {e.receiver for e in from_dealer} == {"alice", "bob"} and t.received_by("dealer") == []
    # Party 0 records the share it expanded itself, as made on its own device.
    expanded = [e for e in t.received_by("alice", "share") if "triple" in e.label]
    assert len(expanded) == 4 and all(e.sender is None and e.origin == "dealer" for e in expanded)


def test_seed_comes_from_the_protocols_uniform():
    """The dealer draws a, b and the seed with `uniform` (the CSPRNG op by default): never a fixed seed."""
    draws = []

    def uniform(player, shape):
        draws.append((player, tf.TensorShape(shape).as_list()))
        return default_uniform(player, shape)

    ss = sharing(SeededDealer(), uniform=uniform)
    x, y = ss.define_private_input("client", lambda: X), ss.define_private_input("bob", lambda: Y)
    np.testing.assert_allclose(ss.reveal(x * y, "client").numpy(), q(X) * q(Y), rtol=0, atol=ULP)
    assert draws[2:] == [("dealer", [4, 3]), ("dealer", [4, 3]), ("dealer", [2])]
    with recording() as t:
        graph = tf.function(lambda x, y: ss.reveal(x * y, "client")).get_concrete_function(x, y).graph
    (seed,) = [e for e in t if e.kind == "seed"]
    origin = seed.value.op
    while origin.type in ("Identity", "EnsureShape"):
        origin = origin.inputs[0].op
    assert origin.type == "HeRandomRing" and origin.graph is graph


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dealer_runs_no_op_on_a_share_with_dynamic_shapes(separate_devices, provider):  # noqa: F811
    ss = sharing(PROVIDERS[provider]())
    with recording() as transcript:
        graph = tf.function(products(ss), input_signature=DYNAMIC).get_concrete_function().graph
    assert crossings(graph, transcript) == []
    players = {PLAYER_OF.get(_canonical(op.device)) for op in graph.get_operations()}
    assert {"dealer", "alice", "bob"} <= players
    assert {e.kind for e in transcript.received_by("dealer")} == {"shape"}
    seeds = [e for e in transcript if e.kind == "seed"]
    assert len(seeds) == (3 if provider == "seeded dealer" else 0)
    assert all(e.receiver == "alice" for e in seeds)


@pytest.mark.parametrize("shapes", [((32, 64), (64, 16)), ((171, 30), (30, 1))])
def test_seeded_dealer_halves_the_dealers_bytes_for_a_matmul(shapes):
    rng = np.random.default_rng(5)
    x, w = (rng.uniform(-1, 1, s) for s in shapes)
    sent = {}
    for name, provider in PROVIDERS.items():
        ss = sharing(provider())
        with recording() as t:
            xs, ws = ss.define_private_input("client", lambda: x), ss.define_private_input("bob", lambda: w)
            got = ss.reveal(xs @ ws, "client").numpy()
        np.testing.assert_allclose(got, q(x) @ q(w), rtol=0, atol=ULP)
        sent[name] = sum(t.bytes_per_edge(sender="dealer").values())
    (m, k), (_, n) = shapes
    assert sent["dealer"] == 2 * 8 * (m * k + k * n + m * n)
    ratio = sent["seeded dealer"] / sent["dealer"]
    assert 0.5 <= ratio <= 0.6, sent


def test_bytes_per_edge_counts_numeric_tensors_and_refuses_others():
    ss = sharing(Dealer())
    with recording() as t:
        x = ss.define_private_input("client", lambda: X)
        ss.reveal(x, "client")
    edges = t.bytes_per_edge()
    expected = [("client", "alice"), ("client", "bob"), ("alice", "client"), ("bob", "client")]
    assert edges == {edge: 8 * X.size for edge in expected}
    with recording() as t:
        he_tf.protocol.transcript.send(tf.constant(["ciphertext"]), to="bob", sender="alice",
                                       kind="ciphertext", label="c")
    with pytest.raises(ValueError, match="no byte count for a string tensor"):
        t.bytes_per_edge()


def test_provider_must_be_a_provider():
    with pytest.raises(TypeError, match="provider must be a he_tf.protocol.providers.Provider, got str"):
        sharing("seeded")
