"""The driving process of tests/test_remote_netns.py: run in the hub namespace as player "client".

``python tests/netns_driver.py CLUSTER.json DATA_DIR`` connects as the client, then for each step
counts the bytes that crossed the hub's end of each player's veth (``/sys/class/net/v-<player>``, this
namespace's) and prints one JSON line of results. Alice's records are written to DATA_DIR first, standing
in for her own disk; her server reads them there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context

import he_tf
from he_tf import remote

PLAYERS = ("alice", "bob")


def counters(player: str) -> tuple[int, int]:
    """Bytes sent to and received from `player` through its veth, so far."""
    base = Path(f"/sys/class/net/v-{player}/statistics")
    return int((base / "tx_bytes").read_text()), int((base / "rx_bytes").read_text())


def measured(fn):
    """fn()'s result and the bytes each player's link carried meanwhile: {player: {"to": n, "from": n}}.

    Remote ops return before they finish (TensorFlow's remote eager execution is asynchronous):
    ``async_wait`` waits for every pending op, here and on the players, before the counters are read.
    """
    context.async_wait()
    before = {p: counters(p) for p in PLAYERS}
    result = fn()
    context.async_wait()
    after = {p: counters(p) for p in PLAYERS}
    return result, {p: {"to": after[p][0] - before[p][0], "from": after[p][1] - before[p][1]}
                    for p in PLAYERS}


def main(config_path: str, data_dir: str) -> dict:
    import keras

    config = he_tf.ClusterConfig.from_json(config_path, local_player="client")
    config.connect(timeout=60)
    he_tf.set_config(config)
    out: dict = {"devices": {}}
    rng = np.random.default_rng(0)

    big = rng.normal(size=(512, 512))  # 2 MiB
    ptr, out["send"] = measured(lambda: remote.send(big, "alice"))
    total, out["reduce_sum"] = measured(lambda: float(tf.reduce_sum(ptr * 2.0).get().numpy()))
    out["sum_error"] = abs(total - 2.0 * big.sum())
    out["devices"]["sent"] = ptr.device

    try:
        ptr.move("bob")
    except PermissionError as e:
        out["move_refused"] = str(e)
    moved, out["move"] = measured(lambda: ptr.grant("bob").move("bob"))
    out["devices"]["moved"] = moved.device
    out["moved_equal"] = bool(np.array_equal(moved.get().numpy(), big))

    # Alice's records (4 MiB of features) on her disk, read by her server.
    x = rng.normal(size=(16384, 32))
    y = (x @ np.linspace(-1, 1, 32) > 0).astype(np.float64)
    paths = []
    for name, value in (("x", x), ("y", y)):
        path = Path(data_dir) / f"alice.{name}"
        path.write_bytes(tf.io.serialize_tensor(tf.constant(value)).numpy())
        paths.append(str(path))
    out["records_bytes"] = x.nbytes + y.nbytes

    def records(readers):
        return [remote.define_input("alice", lambda p=p: tf.io.parse_tensor(tf.io.read_file(p), tf.float64),
                                    readers=readers) for p in paths]

    private, out["define_input"] = measured(lambda: records(readers=()))
    out["devices"]["records"] = private[0].device

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1, activation="sigmoid")])
        m.compile(keras.optimizers.SGD(0.5), "binary_crossentropy")
        return m

    try:
        remote.fit(model(), *private)
    except PermissionError as e:
        out["fit_refused"] = str(e)
    allowed = records(readers=["client"])
    trained = model()
    _, out["fit"] = measured(lambda: remote.fit(trained, *allowed, epochs=2, batch_size=1024, shuffle=False))
    reference = model()
    reference.fit(x, y, epochs=2, batch_size=1024, shuffle=False, verbose=0)
    out["fit_weight_difference"] = float(max(np.max(np.abs(a - b))
                                             for a, b in zip(trained.get_weights(), reference.get_weights())))
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3])), flush=True)
