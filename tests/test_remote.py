"""he_tf.remote: pointers, their policy, Keras training where the data is, on one process and on players.

The first part runs every player in this process (``LocalConfig``): what ops on pointers compute, what
the policy allows and refuses, and that remote training is Keras's own ``fit``. The second starts the
players as ``serve-player`` processes on loopback with this process as one of them (``LoopbackCluster``,
~20-40 s to start on a busy 2-core machine): tensors land on the players' tasks, training runs there,
and federated learning with secure aggregation matches plaintext federated averaging.
``tests/test_remote_netns.py`` puts players in separate network namespaces.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf import remote
from he_tf.protocol import recording
from he_tf.protocol.players import ClusterConfig, LocalConfig, UnknownPlayerError

keras = pytest.importorskip("keras")


@pytest.fixture
def local():
    """client (this process), alice and bob, all in this process."""
    previous = he_tf.get_config()
    he_tf.set_config(LocalConfig(["client", "alice", "bob", "aggregator", "dealer"], local_player="client"))
    yield
    he_tf.set_config(previous)


def small_model(features: int = 4):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    return model


def dataset(n: int = 60, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    return x, (x @ np.linspace(-1, 1, features) > 0).astype(np.float64)


# --- who "I" am -----------------------------------------------------------------------------------


def test_this_process_must_be_a_player():
    previous = he_tf.get_config()
    he_tf.set_config(LocalConfig(["client", "alice"]))
    try:
        with pytest.raises(ValueError, match="local_player='client'"):
            remote.send([1.0], "alice")
    finally:
        he_tf.set_config(previous)
    with pytest.raises(UnknownPlayerError):
        LocalConfig(["client"], local_player="carol")


def test_cluster_config_names_its_local_player(tmp_path):
    config = ClusterConfig({"client": "127.0.0.1:1", "alice": "127.0.0.1:2"}, local_player="client")
    assert config.local_player == "client" and "local_player='client'" in repr(config)
    config.to_json(tmp_path / "c.json")
    assert "local_player" not in (tmp_path / "c.json").read_text()  # each host names its own
    assert ClusterConfig.from_json(tmp_path / "c.json", local_player="alice").local_player == "alice"
    with pytest.raises(ValueError, match="driver or local_player, not both"):
        ClusterConfig({"client": "127.0.0.1:1"}, driver="127.0.0.1:3", local_player="client")
    with pytest.raises(UnknownPlayerError):
        ClusterConfig({"client": "127.0.0.1:1"}, local_player="bob")
    # Its own server is started by connect, so only the other players are waited for (none listen here).
    with pytest.raises(he_tf.protocol.players.ServerUnreachableError, match="'alice'"):
        config.wait_for_servers(timeout=0.2)


# --- pointers in one process ----------------------------------------------------------------------


def test_ops_on_pointers_compute_there_and_come_back(local):
    x, w = np.arange(6.0).reshape(2, 3), np.array([[1.0], [-2.0], [0.5]])
    with recording() as transcript:
        ptr = remote.send(x, "alice", label="x")
        results = {
            "add": ptr + 1, "radd": 1 + ptr, "matmul": ptr @ w, "tf.matmul": tf.matmul(ptr, w),
            "reduce_sum": tf.reduce_sum(ptr, axis=1), "relu": tf.nn.relu(ptr - 2.0), "neg": -ptr,
            "getitem": ptr[1, ::2], "concat": tf.concat([ptr, ptr * 2.0], axis=0), "rsub": np.ones(3) - ptr,
            "transpose": tf.transpose(ptr), "square": tf.square(ptr), "mean": tf.reduce_mean(ptr),
        }
        values = {name: r.get().numpy() for name, r in results.items()}
    expected = {
        "add": x + 1, "radd": x + 1, "matmul": x @ w, "tf.matmul": x @ w, "reduce_sum": x.sum(1),
        "relu": np.maximum(x - 2, 0), "neg": -x, "getitem": x[1, ::2], "concat": np.concatenate([x, 2 * x]),
        "rsub": 1 - x, "transpose": x.T, "square": x**2, "mean": x.mean(),
    }
    for name in expected:
        assert isinstance(results[name], remote.Pointer) and results[name].location == "alice", name
        np.testing.assert_array_equal(values[name], expected[name], err_msg=name)
    # Sent: x, and this process's arrays that entered ops (w twice, the ones once); got: each result.
    sent = [e for e in transcript if e.sender == "client"]
    assert [e.label for e in sent] == ["x", "argument of matmul", "argument of matmul", "argument of sub"]
    assert all(e.receiver == "alice" and e.kind == "plaintext" and e.origin == "client" for e in sent)
    got = [e for e in transcript if e.receiver == "client"]
    assert len(got) == len(results) and all(e.sender == "alice" for e in got)
    assert len(transcript) == len(sent) + len(got)


def test_pointers_on_different_players_do_not_mix(local):
    a, b = remote.send([1.0, 2.0], "alice"), remote.send([3.0, 4.0], "bob")
    with pytest.raises(remote.MixedLocationsError, match=r"mixes pointers on \['alice', 'bob'\].*move"):
        a + b
    with pytest.raises(remote.MixedLocationsError):
        tf.add(a, b)
    moved = b.grant("alice").move("alice")
    np.testing.assert_array_equal((a + moved).get().numpy(), [4.0, 6.0])


def test_get_and_move_follow_the_owners_policy(local):
    mine = remote.send([1.0, 2.0], "alice")
    assert mine.owner == "client" and mine.readers == {"client"}
    with pytest.raises(PermissionError, match=r"'bob' may not receive.*ptr.grant\('bob'\)"):
        mine.move("bob")
    assert mine.grant("bob").move("bob").location == "bob"

    theirs = remote.define_input("alice", lambda: tf.constant([5.0, 6.0]), label="records")
    assert theirs.owner == "alice" and theirs.location == "alice"
    with pytest.raises(PermissionError, match=r"get: 'client' may not receive 'records'.*\['alice'\] does not"):
        theirs.get()
    with pytest.raises(PermissionError, match="only an owner grants"):
        theirs.grant("client")
    # Computed from both: every owner must allow the receiver.
    both = theirs * mine
    assert both.owners == {"alice", "client"} and both.readers == set()
    with pytest.raises(PermissionError, match=r"\['alice'\] does not allow 'client'"):
        both.get()
    shared = remote.define_input("alice", lambda: tf.constant([5.0, 6.0]), readers=["client"])
    np.testing.assert_array_equal((shared * mine).get().numpy(), [5.0, 12.0])
    # The client's grant to bob covers its own part only: alice has not allowed bob.
    with pytest.raises(PermissionError, match=r"\['alice'\] does not allow 'bob'"):
        (shared * mine).grant("bob").move("bob")


def test_variables_live_there_and_carry_what_is_assigned(local):
    variable = remote.send(tf.Variable([1.0, 2.0], name="counts"), "alice")
    assert variable.is_variable and variable.label == "counts:0"
    variable.assign_add([10.0, 10.0]).assign_sub(remote.send([1.0, 1.0], "alice"))
    np.testing.assert_array_equal(variable.get().numpy(), [10.0, 11.0])
    variable.assign(remote.define_input("alice", lambda: tf.constant([7.0, 7.0])))
    assert variable.owners == {"alice", "client"}
    with pytest.raises(PermissionError):
        variable.get()
    with pytest.raises(TypeError, match="tf.Variable"):
        remote.send([1.0], "alice").assign([2.0])


def test_pointers_refuse_to_become_local_values(local):
    ptr = remote.send([1.0, 2.0], "alice")
    for attempt in (np.asarray, bool, list, lambda p: p.numpy()):
        with pytest.raises(TypeError, match="ptr.get|pointer"):
            attempt(ptr)
    with pytest.raises(TypeError, match="needs a pointer"):
        remote.apply(tf.add, 1.0, 2.0)
    with pytest.raises(UnknownPlayerError):
        remote.send([1.0], "mallory")
    with pytest.raises(UnknownPlayerError):
        remote.send([1.0], "alice", readers=["mallory"])
    with pytest.raises(TypeError, match="takes a function"):
        remote.define_input("alice", [1.0, 2.0])
    with pytest.raises(TypeError, match="stays where it is"):
        remote.send(remote.send(small_model(), "alice"), "bob")
    x, y = remote.define_input("alice", lambda: (tf.ones([2]), [1.0, 2.0]))  # a tuple: one pointer each
    assert x.shape == (2,) and y.shape == (2,) and y.owner == "alice"


def test_define_private_input_needs_the_location_to_own_the_value(local):
    ckks = he_tf.protocol.CKKS(key_owner="client", evaluator="aggregator", params=he_tf.Params.for_depth(1),
                               rotations=None)
    with ckks:
        with pytest.raises(PermissionError, match="does not own it"):
            remote.define_private_input(remote.send([1.0, 2.0], "alice"))  # the client's data, on alice
        x = remote.define_private_input(remote.define_input("alice", lambda: tf.constant([1.0, 2.0])))
        out = he_tf.define_output("client", None, x * 3.0)
    np.testing.assert_allclose(out.numpy(), [3.0, 6.0], atol=1e-6)


# --- Keras where the data is ----------------------------------------------------------------------


def test_remote_fit_is_keras_fit_and_only_weights_come_back(local):
    x, y = dataset()
    remote_model, local_model = small_model(), small_model()
    with recording() as transcript:
        losses = remote.fit(remote_model, remote.send(x, "alice"), remote.send(y, "alice"), epochs=4,
                            batch_size=16, shuffle=False)
    history = local_model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0)
    # The same Keras step on the same batches: equal up to float32 rounding (here bit for bit).
    for a, b in zip(remote_model.get_weights(), local_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(losses.get().numpy(), history.history["loss"], rtol=1e-6)
    back = [e for e in transcript if e.receiver == "client"]
    assert [e.label for e in back] == [w.path for w in remote_model.weights]  # the weights, nothing else
    assert [e.label for e in transcript if e.receiver == "alice"][2:] == [w.path for w in remote_model.weights]


def test_fit_refuses_before_sending_when_the_weights_may_not_come_back(local):
    x, y = dataset()
    records = [remote.define_input("alice", lambda v=v: tf.constant(v)) for v in (x, y)]
    model = small_model()
    before = model.get_weights()
    with recording() as transcript, pytest.raises(PermissionError, match=r"fit would bring back.*remote.train"):
        remote.fit(model, *records)
    assert len(transcript) == 0 and all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    # train keeps them there: the model pointer now carries alice's data and does not come back.
    pointer = remote.send(model, "alice")
    losses = remote.train(pointer, *records, epochs=2, seed=1)
    assert pointer.owners == {"alice", "client"} and losses.shape == (2,)
    with pytest.raises(PermissionError):
        pointer.get()
    predictions = pointer(records[0])
    assert predictions.location == "alice" and predictions.shape == (60, 1)


def test_assigning_a_model_pointer_starts_it_afresh(local):
    """After training on alice's data, assign puts the client's weights and a fresh optimizer (Adam's
    moments and step) back: the copy is the client's alone again, and trains as a newly sent one."""
    x, y = dataset()
    records = [remote.define_input("alice", lambda v=v: tf.constant(v)) for v in (x, y)]
    mine = [remote.send(v, "alice") for v in (x, y)]
    model = small_model()
    pointer = remote.send(model, "alice")
    remote.train(pointer, *records, epochs=2)
    assert pointer.owners == {"alice", "client"}
    assert pointer.assign(model) is pointer and pointer.owners == {"client"}
    remote.train(pointer, *mine, epochs=2, shuffle=False)
    reused = pointer.get().get_weights()
    fresh = small_model()
    remote.fit(fresh, *mine, epochs=2, shuffle=False)
    for a, b in zip(reused, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="does not have the weights"):
        pointer.assign(small_model(features=5))


def test_shuffled_training_depends_on_the_seed_only(local):
    x, y = dataset()
    weights = []
    for seed in (3, 3, 4):
        model = small_model()
        remote.fit(model, remote.send(x, "alice"), remote.send(y, "alice"), epochs=2, batch_size=8, seed=seed)
        weights.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    np.testing.assert_array_equal(weights[0], weights[1])
    assert np.max(np.abs(weights[0] - weights[2])) > 1e-4


@pytest.mark.parametrize("call, error, match", [
    (lambda m, x, y: remote.fit(m, x, y, epochs=0), ValueError, "epochs must be an integer >= 1"),
    (lambda m, x, y: remote.fit(m, x, y, batch_size=2.5), ValueError, "batch_size"),
    (lambda m, x, y: remote.fit(m, x, x[:10]), ValueError, "same number of examples"),
    (lambda m, x, y: remote.fit(m, x, remote.send(np.ones(60), "bob")), remote.MixedLocationsError, "one player"),
    (lambda m, x, y: remote.fit(m, np.ones((60, 4)), y), TypeError, "must be a pointer"),
    (lambda m, x, y: remote.fit("model", x, y), TypeError, "Keras model"),
    (lambda m, x, y: remote.train(m, x, y), TypeError, "ModelPointer"),
])
def test_bad_training_arguments_are_named(local, call, error, match):
    x, y = dataset()
    with pytest.raises(error, match=match):
        call(small_model(), remote.send(x, "alice"), remote.send(y, "alice"))


def test_an_uncompiled_model_is_refused(local):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    x, y = dataset()
    with pytest.raises(TypeError, match=r"compile model .* first"):
        remote.fit(model, remote.send(x, "alice"), remote.send(y, "alice"))


# --- players as processes -------------------------------------------------------------------------

from benchmarks import federated_players  # noqa: E402  (the federated example, on the same players)


HOSPITALS = ("alice", "bob")  # two of the example's three: one server process fewer to start


@pytest.fixture(scope="module")
def players():
    """The federated example's players, each its own serve-player process but the model owner (this one)."""
    with remote.LoopbackCluster(federated_players.players(HOSPITALS),
                                local_player=federated_players.MODEL_OWNER) as cluster:
        yield cluster.config


def test_pointers_live_on_the_players_tasks(players):
    me, alice, bob = (players.device(p) for p in ("model_owner", "alice", "bob"))
    x = np.random.default_rng(0).normal(size=(50, 4))
    with recording() as transcript:
        ptr = remote.send(x, "alice")
        product = ptr @ np.ones((4, 2))
        total = tf.reduce_sum(product)
        value = total.get()
        on_bob = ptr.grant("bob").move("bob")
    assert ptr.device == alice and product.device == alice and total.device == alice
    assert value.device == me and on_bob.device == bob
    np.testing.assert_allclose(value.numpy(), (x @ np.ones((4, 2))).sum(), rtol=1e-12)
    for entry in transcript:  # every transfer arrived on its receiver's task
        assert entry.value.device == players.device(entry.receiver), entry
    # A model sent there trains there: its weights and its optimizer's state live on alice's task.
    model = remote.send(small_model(), "alice")
    remote.train(model, ptr, remote.send((x[:, 0] > 0).astype(np.float64), "alice"), epochs=1)
    replica = model._replica
    assert {v.value.device for v in replica.weights + replica.optimizer.variables} == {alice}
    with tf.device(alice):
        raw = tf.constant([1.0])  # a tensor on alice's task, not a pointer: only pointers move from there
    with pytest.raises(ValueError, match="only as pointers"):
        remote.send(raw, "bob")


def test_remote_fit_on_a_players_own_records(players, tmp_path):
    """Alice reads her records from her file on her task; the model trains there; the weights come back."""
    x, y = dataset(n=80)
    paths = []
    for name, value in (("x", x), ("y", y)):
        paths.append(str(tmp_path / name))
        (tmp_path / name).write_bytes(tf.io.serialize_tensor(tf.constant(value)).numpy())
    records = [remote.define_input("alice", lambda p=p: tf.io.parse_tensor(tf.io.read_file(p), tf.float64),
                                   readers=["model_owner"]) for p in paths]
    assert records[0].device == players.device("alice")
    model, reference = small_model(), small_model()
    with recording() as transcript:
        remote.fit(model, *records, epochs=3, batch_size=16, shuffle=False)
    reference.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    assert {e.receiver for e in transcript} == {"alice", "model_owner"}
    assert [e.label for e in transcript if e.receiver == "model_owner"] == [w.path for w in model.weights]


def test_federated_learning_on_players(players, tmp_path):
    """Each hospital trains on its own file on its task; the model owner gets only the aggregate."""
    files, x_test, y_test = federated_players.split_data(tmp_path, HOSPITALS)
    results = federated_players.run(files, x_test, y_test, rounds=2)
    reference = np.array(results["plaintext"]["weights"])
    # CKKS adds two encrypted updates at scale 2^40 (errors ~1e-9 per round); shares are 16-bit fixed
    # point (2^-17 rounding per update): both within float32 training's own noise after two rounds.
    tolerance = {"CKKS": 1e-5, "SecretSharing": 1e-3}
    for name in ("CKKS", "SecretSharing"):
        difference = np.max(np.abs(np.array(results[name]["weights"]) - reference))
        assert difference < tolerance[name], (name, difference)
        federated_players.check_views(results[name]["transcript"], HOSPITALS)
        assert abs(results[name]["accuracy"] - results["plaintext"]["accuracy"]) <= 0.02
    assert results["plaintext"]["accuracy"] > 0.9
    # The plaintext run is the baseline because the hospitals allowed it: their updates came back.
    back = [e for e in results["plaintext"]["transcript"] if e.receiver == "model_owner" and e.sender is not None]
    assert {e.sender for e in back} == set(HOSPITALS)
