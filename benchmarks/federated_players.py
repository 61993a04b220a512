"""Federated learning on real players: Keras training where the data is, secure aggregation of the updates.

``python -m benchmarks.federated_players``: docs/protocol-examples.md's secure aggregation, with each
player its own TensorFlow server process (``serve-player``) and this process the model owner. Three
hospitals (alice, bob, carol) hold a third of the breast-cancer training set each; every round the model
owner sends the global Keras model (logistic regression) to each hospital, which trains it on its own
records there (``he_tf.remote.train``, one local epoch), and the updated weights are averaged:

- ``plaintext``: the hospitals allow the model owner their updates, which come back in the clear
  (``get``) and are averaged here: the baseline, and the reference the secure runs must match;
- ``CKKS``: each hospital encrypts its update under the model owner's key on its own device, the
  aggregator adds the ciphertexts, the model owner decrypts only the mean;
- ``SecretSharing``: each hospital splits its update into shares for the aggregator and the model owner,
  who add them locally; the mean is revealed to the model owner only.

The hospitals' records are written to a directory before the protocol starts, standing in for data
already on their disks; each hospital's server reads its own file with TensorFlow ops on its device
(``he_tf.remote.define_input``), so the records never pass through the model owner's process, and in
the secure runs nothing computed from them reaches it but the aggregate (checked on the transcript).
Reported per variant: seconds per round (the median after the first, which traces the training
functions; the ratio to plaintext from the same run), the bytes between
distinct players per round (ciphertexts at their serialized size, the public context once), the final
weights' distance to the plaintext run and test accuracy. Writes
``benchmarks/results/federated_players.{json,md}``.

``--config cluster.json`` uses servers already running (every player but ``model_owner``, which is this
process); ``--data-dir`` must then be readable by the hospitals' servers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import he_tf
from benchmarks import machine
from benchmarks.hybrid_inference import bytes_moved
from benchmarks.result_files import write
from he_tf import remote
from he_tf.protocol import CKKS, SecretSharing

RESULTS = Path(__file__).resolve().parent / "results"
DATA_OWNERS = ("alice", "bob", "carol")
MODEL_OWNER = "model_owner"


def players(owners=DATA_OWNERS) -> tuple[str, ...]:
    """Everyone taking part: the model owner, the data owners, the aggregator and the dealer."""
    return (MODEL_OWNER, *owners, "aggregator", "dealer")


PLAYERS = players()
FEATURES = 30


def split_data(data_dir: Path, owners=DATA_OWNERS):
    """The breast-cancer training set in one file per data owner, the test set for the model owner.

    Features are standardized with the training set's statistics, a public preprocessing step the
    players agree on beforehand (as in docs/protocol-examples.md). Returns {owner: (x path, y path)},
    x_test, y_test.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    features, labels = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.3, random_state=0,
                                                        stratify=labels)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    files = {}
    for owner, part in zip(owners, np.array_split(np.arange(len(x_train)), len(owners))):
        paths = (data_dir / f"{owner}.x", data_dir / f"{owner}.y")
        for path, value in zip(paths, (x_train[part], y_train[part].astype(np.float64))):
            path.write_bytes(tf.io.serialize_tensor(tf.constant(value, tf.float64)).numpy())
        files[owner] = tuple(str(p) for p in paths)
    return files, x_test, y_test


def load_records(files: dict, readers=()) -> dict:
    """Each data owner's (x, y) as pointers it owns, read from its file by ops on its own device."""
    def reader(path):
        return lambda: tf.io.parse_tensor(tf.io.read_file(path), tf.float64)

    return {owner: (remote.define_input(owner, reader(x), readers=readers, label=f"{owner}'s features"),
                    remote.define_input(owner, reader(y), readers=readers, label=f"{owner}'s labels"))
            for owner, (x, y) in files.items()}


def global_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(learning_rate=0.5), "binary_crossentropy")
    return model


def local_updates(model, copies: dict, records: dict, epochs: int, batch_size: int, round_: int) -> list:
    """Each data owner trains a copy of the global model on its records; the weights stay there, flat.

    `copies` keeps each owner's model pointer from round to round (the global weights are assigned
    into it: its training function is traced once).
    """
    updates = []
    for owner, (x, y) in records.items():
        copy = copies[owner].assign(model) if owner in copies else remote.send(model, owner)
        copies[owner] = copy
        seed = round_ * len(records) + len(updates)
        remote.train(copy, x, y, epochs=epochs, batch_size=batch_size, seed=seed)
        updates.append(tf.concat([tf.reshape(w, [-1]) for w in copy.weights], axis=0))  # a pointer there
    return updates


def set_flat(model, vector) -> None:
    vector, start = np.asarray(vector, np.float64), 0
    for weight in model.weights:
        size = int(np.prod(weight.shape))
        weight.assign(vector[start:start + size].reshape(weight.shape).astype(np.float32))
        start += size


def plaintext_mean(updates) -> np.ndarray:
    """The updates brought back in the clear (their owners allowed it) and averaged here."""
    return np.mean([u.get().numpy() for u in updates], axis=0)


def secure_mean(protocol):
    """The mean of the updates under `protocol`, revealed to the model owner only."""
    def mean(updates) -> np.ndarray:
        with protocol:
            total = None
            for update in updates:  # each owner encrypts or shares its own update on its own device
                value = remote.define_private_input(update)
                total = value if total is None else total + value
            return he_tf.define_output(MODEL_OWNER, None, total * (1.0 / len(updates))).numpy()

    return mean


def make_protocol(name: str):
    """The aggregation's protocol: None (plaintext, the baseline), CKKS (the model owner's key, the
    aggregator adds) or SecretSharing (the aggregator and the model owner hold the shares)."""
    if name == "CKKS":
        return CKKS(key_owner=MODEL_OWNER, evaluator="aggregator", params=he_tf.Params.for_depth(1),
                    rotations=None)
    if name == "SecretSharing":
        return SecretSharing(players=("aggregator", MODEL_OWNER), dealer="dealer", outputs=[MODEL_OWNER])
    if name == "plaintext":
        return None
    raise ValueError(f"unknown aggregation {name!r}: plaintext, CKKS or SecretSharing")


def run(files: dict, x_test, y_test, rounds: int, epochs: int = 1, batch_size: int = 32,
        variants=("plaintext", "CKKS", "SecretSharing")) -> dict:
    """Federated averaging for `rounds` rounds under each variant, on the installed config's players."""
    results = {}
    for name in variants:
        records = load_records(files, readers=[MODEL_OWNER] if name == "plaintext" else [])
        with he_tf.protocol.recording() as transcript:
            start = time.perf_counter()
            protocol = make_protocol(name)
            aggregate = plaintext_mean if protocol is None else secure_mean(protocol)
            setup_seconds = time.perf_counter() - start
            model = global_model()
            copies: dict = {}
            times = []
            for round_ in range(rounds):
                start = time.perf_counter()
                set_flat(model, aggregate(local_updates(model, copies, records, epochs, batch_size, round_)))
                times.append(time.perf_counter() - start)
        contexts = {MODEL_OWNER: len(protocol.public_context.serialize())} if isinstance(protocol, CKKS) \
            else {}
        probability = model.predict(x_test, verbose=0)[:, 0]
        results[name] = {
            # The first round traces the training functions; the others show the steady state.
            "setup_seconds": setup_seconds, "first_round_seconds": times[0],
            "seconds_per_round": float(np.median(times[1:] if rounds > 1 else times)),
            "bytes_per_round": bytes_moved(
                [e for e in transcript if e.kind != "public_context"], contexts) / rounds,
            "public_context_bytes": bytes_moved([e for e in transcript if e.kind == "public_context"], contexts),
            "accuracy": float(np.mean((probability > 0.5) == y_test)),
            "weights": np.concatenate([w.numpy().ravel() for w in model.weights]).tolist(),
            "transcript": transcript,
        }
    return results


def check_views(transcript, owners=DATA_OWNERS) -> None:
    """What the secure runs' transcript must show: nothing computed from a hospital's records reached
    the model owner or the aggregator in the clear, no player received both shares of an update, the
    hospitals received only the global model (and a public context), only the model owner outputs."""
    share_receivers: dict = {}
    for e in transcript:
        origins = set((e.origin or "").split(","))
        if e.receiver in (MODEL_OWNER, "aggregator", "dealer") and e.kind == "plaintext":
            assert not origins & set(owners), e
        if e.receiver in owners and e.sender is not None:
            assert e.sender == MODEL_OWNER and e.kind in ("plaintext", "public_context"), e
        if e.kind == "share" and origins & set(owners):
            share_receivers.setdefault(e.label.split("[")[0], set()).add(e.receiver)
    assert all(len(receivers) == 2 for receivers in share_receivers.values()), share_receivers
    assert {e.receiver for e in transcript if "output" in e.label} == {MODEL_OWNER}


def measure(rounds: int, config_path: str | None = None, data_dir: str | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="he_tf-federated-") as scratch:
        directory = Path(data_dir or scratch)
        files, x_test, y_test = split_data(directory)
        if config_path is None:
            cluster = remote.LoopbackCluster(PLAYERS, local_player=MODEL_OWNER)
        else:
            config = he_tf.ClusterConfig.from_json(config_path, local_player=MODEL_OWNER)
            config.connect()
            he_tf.set_config(config)
            cluster = None
        try:
            results = run(files, x_test, y_test, rounds)
        finally:
            if cluster is not None:
                cluster.close()
    reference = np.array(results["plaintext"]["weights"])
    rows = []
    for name, r in results.items():
        if name != "plaintext":
            check_views(r.pop("transcript"))
        else:
            r.pop("transcript")
        weights = np.array(r.pop("weights"))
        rows.append({"variant": name, **r, "max_weight_difference": float(np.max(np.abs(weights - reference))),
                     "time_ratio": r["seconds_per_round"] / results["plaintext"]["seconds_per_round"]})
    versions = {"he_tf": he_tf.__version__, "tensorflow": tf.__version__}
    where = "on loopback" if config_path is None else f"at the addresses of {Path(config_path).name}"
    return {"machine": machine.describe({"this process": versions}), "rounds": rounds,
            "players": list(PLAYERS), "servers": where, "rows": rows}


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Machine: {m['cpu']} ({m['cpus']} CPUs), {m['os']}; versions {m['versions']}; commit {m['commit']}.",
        f"Players: {', '.join(result['players'])}, each its own serve-player process {result['servers']} but "
        f"{MODEL_OWNER} (this process); {result['rounds']} rounds of one local epoch per hospital.",
        "",
        "| aggregation | s per round (median after the first) | vs plaintext | first round s | bytes per round "
        "| public context bytes | max weight difference vs plaintext | test accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['variant']} | {r['seconds_per_round']:.3f} | {r['time_ratio']:.2f}x | "
                     f"{r['first_round_seconds']:.2f} | "
                     f"{r['bytes_per_round']:,.0f} | {r['public_context_bytes']:,} | "
                     f"{r['max_weight_difference']:.1e} | {r['accuracy']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="federated rounds per variant (default 10)")
    parser.add_argument("--config", default=None, help="a cluster config of running servers (default: start "
                        "them on loopback)")
    parser.add_argument("--data-dir", default=None, help="where the hospitals' files are written (default: a "
                        "temporary directory)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = measure(args.rounds, args.config, args.data_dir)
    write(args.output_dir, "federated_players", result, markdown(result))


if __name__ == "__main__":
    main()
