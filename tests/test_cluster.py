"""ClusterConfig: each player's TensorFlow server in its own process, this test process driving them.

Three ``python -m he_tf serve-player`` processes (client, server, dealer) listen on free loopback ports;
the test process connects with ``config.connect()`` and runs unchanged protocol code. Tensors between
players cross processes through TensorFlow's gRPC runtime, so ciphertexts and the public context go
through their variant Encode/Decode. Placement is checked on the tensors themselves: every tensor a
player received (the transcript) is on that player's task, and each step's result is where it should be.

Connecting changes this process's eager runtime; the fixture's teardown puts back a fresh local one so
the rest of the session runs as before. Starting the servers dominates the time (each imports
TensorFlow and he_tf: ~15-25 s on a busy 2-core machine).
"""

from __future__ import annotations


import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import CKKS, SecretSharing
from he_tf.protocol.players import ClusterConfig, ServerUnreachableError, UnknownPlayerError
from he_tf.protocol.secret_sharing import default_uniform
from he_tf.remote.loopback import free_port, start_players, stop_players

PLAYERS = ("client", "server", "dealer")
STARTUP_TIMEOUT = 120.0  # seconds for all servers to print their ready line
ATTEMPTS = 3  # a free port can be taken between picking it and the server binding it: retry with new ones


STARTUP: dict[str, str] = {}  # player -> what its serve-player printed before serving (the fixture's)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A connected ClusterConfig of three server processes, installed as the config."""
    from tensorflow.python.eager import context

    work = tmp_path_factory.mktemp("cluster")
    for attempt in range(ATTEMPTS):
        config = ClusterConfig({p: f"127.0.0.1:{free_port()}" for p in PLAYERS})
        config.to_json(work / "cluster.json")
        try:
            procs = start_players(work / "cluster.json", PLAYERS, work, timeout=STARTUP_TIMEOUT, startup=STARTUP)
            break
        except OSError:
            if attempt == ATTEMPTS - 1:
                raise
    previous = he_tf.get_config()
    try:
        config.connect(timeout=30)
        he_tf.set_config(config)
        yield config
    finally:
        he_tf.set_config(previous)
        # TensorFlow has no public disconnect: a new eager context drops the remote tasks (tensors and
        # functions made before keep working), so later tests do not talk to stopped servers.
        context._reset_context()
        stop_players(procs)


def listening(port: int) -> list[str]:
    """Local addresses of this network namespace's listening TCP sockets on `port` (from /proc/net)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.readlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.append(address)
    return found


def assert_received_on_own_task(transcript, config: ClusterConfig) -> None:
    """Every tensor placed on or sent to a player is on that player's task."""
    assert len(transcript) > 0
    for entry in transcript:
        for tensor in tf.nest.flatten(entry.value, expand_composites=True):
            assert tensor.device == config.device(entry.receiver), (entry, tensor.device)


# --- no servers needed ----------------------------------------------------------------------------


def test_config_names_each_players_task(tmp_path):
    config = ClusterConfig({"client": "127.0.0.1:1", "server": "127.0.0.1:2"}, job="hetf")
    assert config.device("server") == "/job:hetf/replica:0/task:1/device:CPU:0"
    assert config.cluster_spec.as_dict() == {"hetf": ["127.0.0.1:1", "127.0.0.1:2"]}
    assert config.address("client") == "127.0.0.1:1" and config.task_index("server") == 1
    with pytest.raises(UnknownPlayerError):
        config.task_index("dealer")
    config.to_json(tmp_path / "c.json")
    loaded = ClusterConfig.from_json(tmp_path / "c.json")
    assert loaded.addresses == config.addresses and loaded.job == "hetf"
    assert ClusterConfig({"a": "[::1]:2222"}).address("a") == "[::1]:2222"


@pytest.mark.parametrize("addresses, match", [
    ({"client": "localhost"}, "host:port"),
    ({"client": "10.0.0.1:99999"}, "port in 1..65535"),
    ({"client": "10.0.0.1:2222", "server": "10.0.0.1:2222"}, "own server address"),
])
def test_bad_addresses_are_named(addresses, match):
    with pytest.raises(ValueError, match=match):
        ClusterConfig(addresses)


def test_localhost_job_is_refused():
    with pytest.raises(ValueError, match="localhost"):
        ClusterConfig({"client": "127.0.0.1:1"}, job="localhost")


def test_unreachable_server_is_named():
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ServerUnreachableError, match=f"'server' is not reachable at {address}"):
        ClusterConfig({"server": address}).connect(timeout=0.5)


def test_bad_config_file_is_named(tmp_path):
    (tmp_path / "bad.json").write_text('{"client": "127.0.0.1:1"}')
    with pytest.raises(ValueError, match="bad.json: not a he_tf cluster config"):
        ClusterConfig.from_json(tmp_path / "bad.json")


# --- across server processes ----------------------------------------------------------------------


def test_servers_listen_on_every_interface_and_say_so(cluster):
    """The addresses say 127.0.0.1, yet TensorFlow binds the port on every interface; serve-player says so."""
    for player, address in cluster.addresses.items():
        bound = listening(int(address.rsplit(":", 1)[1]))
        assert bound and all(set(a) == {"0"} for a in bound), (player, bound)  # 0.0.0.0 or [::]
        text = STARTUP[player]
        for claim in ("every interface of this host", "without authentication", "run any TensorFlow op",
                      "read and write any file", "network connections from this host",
                      "including the secret key", "--private-network DIR"):
            assert claim in text, (claim, text)


def test_ckks_matmul_across_processes(cluster):
    """Client encrypts on its task, the server multiplies on its task, the client decrypts on its task."""
    rng = np.random.default_rng(0)
    x_plain, w = rng.normal(size=(8, 5)), rng.normal(size=(5, 3))
    with he_tf.protocol.recording() as transcript:
        ckks = CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(1), rotations=None)
        with ckks:
            x = he_tf.define_private_input("client", lambda: x_plain)
            y = tf.matmul(x, w)  # user code as with LocalConfig: `with ckks:` puts it on the evaluator
            out = he_tf.define_output("client", None, y)
    client, server = cluster.device("client"), cluster.device("server")
    assert x.ciphertexts.device == server and x.context.device == server  # sent by the client
    assert y.ciphertexts.device == server
    assert out.device == client
    # The secret key was loaded on the client's task and stayed there; the server got the public context.
    (secret,) = [e for e in transcript if e.kind == "secret_key"]
    assert secret.receiver == "client" and secret.value.device == client
    assert [e.receiver for e in transcript if e.kind == "public_context"] == ["server"]
    assert_received_on_own_task(transcript, cluster)
    # CKKS at scale 2^40 with a 5-term dot product: errors ~1e-9, far below 1e-6.
    np.testing.assert_allclose(out.numpy(), x_plain @ w, rtol=0, atol=1e-6)


def infer_in_tf_function(config: ClusterConfig) -> None:
    """A CKKS linear layer traced once, its input fed by this process: TensorFlow runs the function's
    pieces on each player's task, and the client gets the result."""
    w = np.array([[1.0], [-2.0]])
    ckks = CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(1), rotations=None)

    @tf.function
    def infer(values):
        with ckks:
            x = he_tf.define_private_input("client", lambda: values)
            return he_tf.define_output("client", None, tf.matmul(x, w) + 0.5)

    x_plain = np.array([[1.0, 2.0], [0.25, -1.0]])
    out = infer(tf.constant(x_plain))
    assert out.device == config.device("client")
    np.testing.assert_allclose(out.numpy(), x_plain @ w + 0.5, rtol=0, atol=1e-6)


def test_ckks_in_tf_function_across_processes(cluster):
    infer_in_tf_function(cluster)


def test_secret_sharing_multiply_across_processes(cluster):
    """A Beaver product between the client's and the server's tasks, the triple dealt by the dealer's task."""
    drawn = []

    def uniform(player, shape):
        r = default_uniform(player, shape)
        drawn.append((player, r.device))
        return r

    rng = np.random.default_rng(1)
    a_plain, b_plain = rng.uniform(-4, 4, size=(3, 4)), rng.uniform(-4, 4, size=(3, 4))
    with he_tf.protocol.recording() as transcript:
        ss = SecretSharing(players=("client", "server"), dealer="dealer", uniform=uniform)
        with ss:
            a = he_tf.define_private_input("client", lambda: a_plain)
            b = he_tf.define_private_input("server", lambda: b_plain)
            c = a * b
            out = he_tf.define_output("client", None, c)
    assert c.share0.device == cluster.device("client") and c.share1.device == cluster.device("server")
    assert out.device == cluster.device("client")
    # Each player's randomness was drawn on its own task, the dealer's triple on the dealer's.
    assert {player for player, _ in drawn} == set(PLAYERS)
    assert all(device == cluster.device(player) for player, device in drawn), drawn
    assert transcript.received_by("dealer") == []
    assert {e.sender for e in transcript if e.receiver == "client"} >= {"dealer", "server"}
    assert_received_on_own_task(transcript, cluster)
    # Fixed point with f = 16: inputs rounded to 2^-17, one truncation of the product: |err| < 8 * 2^-16.
    np.testing.assert_allclose(out.numpy(), a_plain * b_plain, rtol=0, atol=8 * 2.0**-16)


def test_secret_key_cannot_leave_its_task(cluster):
    """The secret key variant encodes to nothing: an op that needs it on another task fails there."""
    keys_on = cluster.device("client")
    with tf.device(keys_on):
        keys = he_tf.KeySet.generate(he_tf.Params.for_depth(1), rotations=None)
        x = he_tf.encrypt(keys.public, [1.0, 2.0])
    assert keys.secret.tensor.device == keys_on
    with tf.device(cluster.device("server")), pytest.raises(tf.errors.OpError):
        he_tf.ops.decrypt(tf.identity(keys.public.tensor), keys.secret.tensor, tf.identity(x.ciphertexts),
                          num_values=2).numpy()
    with tf.device(keys_on):  # on the key's own task decryption works
        np.testing.assert_allclose(he_tf.decrypt(keys.secret, x).numpy(), [1.0, 2.0], atol=1e-6)
