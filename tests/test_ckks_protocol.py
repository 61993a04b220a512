"""The CKKS protocol: who holds which key, what each player receives, results against NumPy (atol 1e-6)."""

import numpy as np
import pytest
import tensorflow as tf

import he_tf
from he_tf.protocol import CKKS

PLAYERS = ["client", "server", "alice", "dealer"]
X = np.array([[0.5, -1.25], [2.0, 3.5], [-0.75, 0.0]])
W = np.array([[1.0, -0.5, 0.25], [0.5, 2.0, -1.0]])


@pytest.fixture(scope="module", autouse=True)
def config():
    he_tf.set_config(he_tf.LocalConfig(PLAYERS))
    yield
    he_tf.set_config(he_tf.LocalConfig())


@pytest.fixture(scope="module")
def recorded():
    """A protocol created, used and revealed while recording: (protocol, transcript, result)."""
    with he_tf.protocol.recording() as transcript:
        ckks = CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(2), rotations=None)
        with ckks:
            x = he_tf.define_private_input("client", lambda: X)
            bias = he_tf.define_private_input("server", lambda: np.ones((3, 3)))  # the server's own input
            y = tf.matmul(x, W) + bias
            result = he_tf.define_output("client", lambda v: 2.0 * v, y)
    return ckks, transcript, result


def test_result_matches_numpy(recorded):
    _, _, result = recorded
    np.testing.assert_allclose(result, 2.0 * (X @ W + 1.0), atol=1e-6)


def test_secret_key_never_leaves_the_key_owner(recorded):
    _, transcript, _ = recorded
    keys = [e for e in transcript if e.kind == "secret_key"]
    assert keys and all(e.receiver == "client" and e.sender is None for e in keys)


def test_public_context_is_sent_to_the_evaluator(recorded):
    _, transcript, _ = recorded
    sent = transcript.received_by("server", "public_context")
    assert [e.sender for e in sent] == ["client"]


def test_server_receives_only_ciphertexts_of_the_clients_data(recorded):
    _, transcript, _ = recorded
    from_client = [e for e in transcript.received_by("server") if e.origin == "client"]
    assert from_client and {e.kind for e in from_client} == {"ciphertext"}
    assert transcript.kinds_received("server") == {"public_context", "plaintext", "ciphertext"}
    # The only plaintext on the server is its own input.
    assert {e.origin for e in transcript.received_by("server", "plaintext")} == {"server"}


def test_output_is_decrypted_on_the_key_owner_only(recorded):
    _, transcript, _ = recorded
    outputs = [e for e in transcript if "output" in e.label]
    assert {e.receiver for e in outputs} == {"client"}
    assert {e.kind for e in outputs} == {"ciphertext", "plaintext"}


def test_other_input_players_get_the_public_context_first(recorded):
    ckks, _, _ = recorded
    with he_tf.protocol.recording() as transcript:
        x = ckks.define_private_input("alice", lambda: X)
    kinds = [(e.receiver, e.kind) for e in transcript]
    assert kinds == [("alice", "public_context"), ("alice", "plaintext"), ("server", "ciphertext")]
    np.testing.assert_allclose(ckks.define_output("client", None, x * x), X * X, atol=1e-5)
    with he_tf.protocol.recording() as again:  # sent once only
        ckks.define_private_input("alice", lambda: X)
    assert "public_context" not in again.kinds_received("alice")


def test_only_the_key_owner_can_receive_outputs(recorded):
    ckks, _, _ = recorded
    x = ckks.define_private_input("client", lambda: X)
    for player in ("server", "alice"):
        with pytest.raises(PermissionError, match="SecretSharing"):
            ckks.define_output(player, None, x)


def test_owns_hetensors_of_its_parameters_only(recorded):
    ckks, _, _ = recorded
    x = ckks.define_private_input("client", lambda: X)
    assert ckks.owns(x) and he_tf.protocol.protocol_of(x) is ckks
    foreign = he_tf.encrypt(he_tf.KeySet.generate(he_tf.Params.for_depth(1), rotations=None).public, X)
    assert not ckks.owns(foreign)
    with pytest.raises(TypeError, match="HETensors"):
        ckks.define_output("client", None, foreign)


def test_vector_layout_and_integer_inputs():
    ckks = CKKS(params=he_tf.Params.for_depth(1), rotations=[1, 2], layout="vector")
    x = ckks.define_private_input("client", lambda: tf.constant([[1, 2, 3], [4, 5, 6]]))
    assert x.layout == "vector" and x.dtype == tf.float64
    np.testing.assert_allclose(ckks.define_output("client", None, tf.reduce_sum(x, axis=1)), [6.0, 15.0],
                               atol=1e-6)


def test_bad_arguments():
    with pytest.raises(TypeError, match="he_tf.Params"):
        CKKS(params=(8192, (60, 40, 60), 40))
    with pytest.raises(ValueError, match="layout"):
        CKKS(layout="rows")
    with pytest.raises(ValueError, match="hiding_bits"):
        CKKS(hiding_bits=-1)
    with pytest.raises(ValueError, match="value_bound"):
        CKKS(value_bound=0.0)
    ckks = CKKS(params=he_tf.Params.for_depth(1), rotations=None)
    with pytest.raises(TypeError, match="function"):
        ckks.define_private_input("client", X)
    with pytest.raises(TypeError, match="real numbers"):
        ckks.define_private_input("client", lambda: tf.constant(["a"]))


def test_default_flooding_costs_at_most_2_to_the_minus_20():
    ckks = CKKS(params=he_tf.Params.for_depth(1), rotations=None)
    n = ckks.params.poly_modulus_degree
    bits = ckks.default_flood_bits(fraction_bits=16, scale=2.0**40)
    assert bits == 13
    assert 2.0**bits * np.sqrt(n) / 2.0**40 <= 2.0**-20
    assert CKKS(params=ckks.params, rotations=None, flood_bits=0).default_flood_bits(16, 2.0**40) == 0


def test_a_failed_construction_leaves_no_protocol_behind(recorded):
    ckks, _, _ = recorded
    with pytest.raises(he_tf.protocol.UnknownPlayerError):
        CKKS(key_owner="mallory", evaluator="server", params=ckks.params, rotations=None)
    x = ckks.define_private_input("client", lambda: X)
    assert he_tf.protocol.protocol_of(x) is ckks


PLACEMENT_SCRIPT = '''
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 3)
import he_tf
from he_tf.protocol import CKKS, Config, SecretSharing
he_tf.set_config(Config({p: f"/job:localhost/replica:0/task:0/device:CPU:{i}"
                         for i, p in enumerate(["client", "server", "dealer"])}))
ckks = CKKS(params=he_tf.Params.for_depth(2), rotations=None)
ss = SecretSharing(players=("client", "server"), dealer="dealer")
with ckks:
    x = he_tf.define_private_input("client", lambda: np.array([[1.0, 2.0]]))
    y = tf.matmul(x, [[1.0], [1.0]]) + 1.0
s = he_tf.convert(y, to=ss)
out = he_tf.define_output("client", None, he_tf.convert(ss.square(s), to=ckks))
print(json.dumps({"input": x.ciphertexts.device, "linear": y.ciphertexts.device, "shares": [s.share0.device,
                  s.share1.device], "output": out.device, "value": float(out.numpy()[0, 0])}))
'''


def test_each_players_work_runs_on_its_device():
    """Three logical CPUs stand for three players: no cluster needed to check the placement."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PLACEMENT_SCRIPT], capture_output=True, text=True, timeout=120,
                          env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    client, server = "/job:localhost/replica:0/task:0/device:CPU:0", "/job:localhost/replica:0/task:0/device:CPU:1"
    assert result["input"] == server and result["linear"] == server  # `with ckks:` runs HE ops on the evaluator
    assert result["shares"] == [client, server] and result["output"] == client
    assert abs(result["value"] - 16.0) < 1e-3
