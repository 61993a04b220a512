"""ClusterConfig: players as tasks of a TensorFlow cluster, here in-process servers on loopback ports.

The cluster runs in a subprocess: connecting to a cluster changes the process's eager runtime for good,
which the rest of the test session must not inherit. About 10 s (imports, keygen, three servers).
Note: he_tf's HETensor arithmetic is not placed by the protocol (only inputs, sends, conversions and
outputs are), so the script places the evaluator's step with ``tf.device(config.device("server"))``.
"""

import subprocess
import sys
import textwrap

import pytest

import he_tf
from he_tf.protocol.players import ClusterConfig

SCRIPT = textwrap.dedent('''
    import json, socket
    import numpy as np
    import tensorflow as tf
    import he_tf
    from he_tf.protocol import CKKS, SecretSharing
    from he_tf.protocol.players import ClusterConfig

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    config = ClusterConfig({p: f"127.0.0.1:{free_port()}" for p in ("client", "server", "dealer")}, job="hetf")
    servers = [config.start_server(p) for p in config.players]
    config.connect()
    he_tf.set_config(config)
    ckks = CKKS(params=he_tf.Params.for_depth(2), rotations=None)
    ss = SecretSharing(players=("client", "server"), dealer="dealer")
    x_plain = np.array([[1.0, -2.0], [0.5, 3.0]])
    x = ckks.define_private_input("client", lambda: x_plain)
    with tf.device(config.device("server")):
        y = tf.matmul(x, np.array([[1.0], [2.0]])) + 0.5
    s = he_tf.convert(y, to=ss)
    out = he_tf.define_output("client", None, he_tf.convert(ss.square(s), to=ckks))
    print(json.dumps({
        "devices": {"input": x.ciphertexts.device, "linear": y.ciphertexts.device, "output": out.device,
                    "share0": s.share0.device, "share1": s.share1.device},
        "error": float(np.max(np.abs(out.numpy() - (x_plain @ [[1.0], [2.0]] + 0.5) ** 2))),
    }))
''')


def test_config_names_each_players_task():
    config = ClusterConfig({"client": "127.0.0.1:1", "server": "127.0.0.1:2"}, job="hetf")
    assert config.device("server") == "/job:hetf/replica:0/task:1/device:CPU:0"
    assert config.cluster_spec.as_dict() == {"hetf": ["127.0.0.1:1", "127.0.0.1:2"]}
    with pytest.raises(he_tf.protocol.UnknownPlayerError):
        config.task_index("dealer")
    with pytest.raises(ValueError, match="host:port"):
        ClusterConfig({"client": "localhost"})


def test_protocols_run_across_in_process_servers():
    import json

    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180,
                          env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    devices = result["devices"]
    assert devices["input"].endswith("task:1/device:CPU:0")   # the ciphertext was sent to the server
    assert devices["linear"].endswith("task:1/device:CPU:0")
    assert devices["output"].endswith("task:0/device:CPU:0")  # decrypted on the client
    assert {devices["share0"][-19:], devices["share1"][-19:]} == {"task:0/device:CPU:0", "task:1/device:CPU:0"}
    assert result["error"] < 2.0**-12
