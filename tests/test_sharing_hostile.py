"""Secret sharing against a curious dealer, with dynamic shapes, and conversions that would lose flooding.

Placement is checked on the traced graph itself: every player gets its own device string (tracing needs
no such devices to exist), and a taint walk over the ``FuncGraph`` follows each tensor to the players
whose ops produced it (through unplaced ops such as constants or function outputs). An op placed on a
player may consume only its own or public tensors, or another player's tensor through a send that the
transcript recorded with that sender.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import CKKS, SecretSharing, recording
from he_tf.protocol.players import Config
from tensorflow.python.framework.ops import EagerTensor

PLAYERS = ("alice", "bob", "dealer", "client")
DEVICES = {p: f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i, p in enumerate(PLAYERS)}
DYNAMIC = [tf.TensorSpec([None, 3], tf.float64), tf.TensorSpec([3, None], tf.float64)]


def _canonical(device: str) -> str:
    return tf.DeviceSpec.from_string(device).to_string() if device else ""


PLAYER_OF = {_canonical(d): p for p, d in DEVICES.items()}


@pytest.fixture
def separate_devices():
    """Each player on its own device string; eager ops (key generation) fall back to the one real CPU."""
    before, soft = he_tf.get_config(), tf.config.get_soft_device_placement()
    he_tf.set_config(Config(DEVICES))
    tf.config.set_soft_device_placement(True)
    yield
    tf.config.set_soft_device_placement(soft)
    he_tf.set_config(before)


def products(ss: SecretSharing):
    """A function with every kind of dealt triple on inputs of run-time shapes."""

    def fn(x, w):
        a = ss.define_private_input("client", lambda: x)
        b = ss.define_private_input("client", lambda: w)
        y = ss.matmul(ss.multiply(ss.square(a), ss.add(a, 1.0)), b)
        return ss.define_output("client", None, y)

    return fn


def crossings(graph, transcript) -> list[str]:
    """Edges into a player's op from a tensor of another player that no recorded send carried."""
    sends = {}  # op name of a send's result on the receiver -> (sender, receiver)
    for entry in transcript:
        for t in tf.nest.flatten(entry.value, expand_composites=True):
            if entry.sender is not None and not isinstance(t, EagerTensor):  # eager: sent before tracing
                sends[t.op.name] = (entry.sender, entry.receiver)
    owners: dict[str, frozenset] = {}  # tensor name -> players whose private ops it derives from
    for external, internal in graph.captures:  # eager tensors the function uses belong to their device's player
        player = PLAYER_OF.get(_canonical(external.device))
        owners[internal.name] = frozenset() if player is None else frozenset({player})
    bad = []
    for op in graph.get_operations():
        player = PLAYER_OF.get(_canonical(op.device))
        if op.device and player is None:
            bad.append(f"{op.type} {op.name} on unknown device {op.device}")
        inputs = frozenset().union(*(owners.get(t.name, frozenset()) for t in op.inputs))
        if player is not None:
            allowed = {player}
            if op.name in sends:
                sender, receiver = sends[op.name]
                assert receiver == player, (op.name, sends[op.name])
                allowed.add(sender)
            for t in op.inputs:
                foreign = owners.get(t.name, frozenset()) - allowed
                if foreign:
                    bad.append(f"{op.type} {op.name} on {player} reads {t.name} of {sorted(foreign)}")
        produced = frozenset({player}) if player is not None else inputs
        for t in op.outputs:
            owners[t.name] = produced
    return bad


def test_dealer_runs_no_op_on_a_share_with_dynamic_shapes(separate_devices):
    ss = SecretSharing(players=("alice", "bob"), dealer="dealer")
    with recording() as transcript:
        graph = tf.function(products(ss), input_signature=DYNAMIC).get_concrete_function().graph
    assert crossings(graph, transcript) == []
    dealer_ops = [op for op in graph.get_operations() if PLAYER_OF.get(_canonical(op.device)) == "dealer"]
    assert dealer_ops, "the dealer dealt nothing"
    shapes = [(e.sender, e.receiver, e.label) for e in transcript if e.kind == "shape"]
    # square(a): a; multiply: a^2 and a + 1; matmul: the product and b. All from the first party.
    assert len(shapes) == 5 and all(s[:2] == ("alice", "dealer") for s in shapes), shapes
    assert {e.kind for e in transcript.received_by("dealer")} == {"shape"}
    assert all(e.value.dtype == tf.int32 and e.value.shape.rank == 1
               for e in transcript.received_by("dealer"))


def test_static_shapes_send_no_shape(separate_devices):
    ss = SecretSharing(players=("alice", "bob"), dealer="dealer")
    static = [tf.TensorSpec([4, 3], tf.float64), tf.TensorSpec([3, 2], tf.float64)]
    with recording() as transcript:
        graph = tf.function(products(ss), input_signature=static).get_concrete_function().graph
    assert crossings(graph, transcript) == []
    assert transcript.received_by("dealer") == []


def test_crossings_finds_an_unrecorded_read(separate_devices):
    """The check itself: a dealer op on a party's share is reported."""
    ss = SecretSharing(players=("alice", "bob"), dealer="dealer")

    def leak(x):
        s = ss.define_private_input("client", lambda: x)
        with tf.device(DEVICES["dealer"]):
            return tf.shape(s.share0)

    with recording() as transcript:
        graph = tf.function(leak, input_signature=DYNAMIC[:1]).get_concrete_function().graph
    found = crossings(graph, transcript)
    assert len(found) == 1 and "on dealer reads" in found[0] and "alice" in found[0], found


def test_conversions_cross_players_only_through_recorded_sends(separate_devices):
    """HE -> shares -> a dealt square -> HE -> decrypted, traced: every crossing is a recorded send."""
    ckks = CKKS(key_owner="client", evaluator="alice", params=he_tf.Params.for_depth(2), rotations=None)
    ss = SecretSharing(players=("alice", "client"), dealer="dealer")

    def fn(x):
        with ckks:
            shares = he_tf.convert(ckks.define_private_input("client", lambda: x), to=ss)
            return ckks.define_output("client", None, he_tf.convert(ss.square(shares), to=ckks) * 2.0)

    with recording() as transcript:
        graph = tf.function(fn).get_concrete_function(tf.TensorSpec([4, 3], tf.float64)).graph
    assert crossings(graph, transcript) == []
    assert {e.kind for e in transcript if e.sender is not None} == {"ciphertext", "masked", "share"}
    assert transcript.received_by("dealer") == []


@pytest.mark.parametrize("n, m", [(1, 1), (5, 2)])
def test_dynamic_shapes_compute_the_right_values(n, m):
    before = he_tf.get_config()
    he_tf.set_config(he_tf.LocalConfig(PLAYERS))
    try:
        ss = SecretSharing(players=("alice", "bob"), dealer="dealer")
        fn = tf.function(products(ss), input_signature=DYNAMIC)
        rng = np.random.default_rng(n)
        x, w = rng.uniform(-2, 2, (n, 3)), rng.uniform(-2, 2, (3, m))
        # Three truncations, each <= 2^-16, grown by |a + 1| <= 3 and a sum over 3 terms of |w| <= 2: 2^-8.
        np.testing.assert_allclose(fn(x, w).numpy(), (x**2 * (x + 1)) @ w, atol=2.0**-8)
    finally:
        he_tf.set_config(before)


def test_default_flooding_that_would_be_zero_raises():
    before = he_tf.get_config()
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    try:
        ckks = CKKS(params=he_tf.Params.for_depth(1), rotations=None, hiding_bits=20)
        with pytest.raises(ValueError, match=r"no room for noise flooding.*fraction_bits 29.*= 0 <= 0.*"
                                             r"fraction_bits <= 28"):
            ckks.default_flood_bits(29, 2.0**40)
        assert ckks.default_flood_bits(28, 2.0**40) == 1
        ss = SecretSharing(players=("client", "server"), fraction_bits=30)
        x = ckks.define_private_input("client", lambda: [[1.0, 2.0]])
        with recording() as transcript, pytest.raises(ValueError, match="no room for noise flooding"):
            he_tf.convert(x, to=ss)
        assert transcript.received_by("client", "masked") == []  # refused before anything was sent
        explicit = CKKS(params=he_tf.Params.for_depth(1), rotations=None, hiding_bits=20, flood_bits=0)
        assert explicit.default_flood_bits(30, 2.0**40) == 0
    finally:
        he_tf.set_config(before)
