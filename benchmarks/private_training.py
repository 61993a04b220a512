"""Private training's cost: time per epoch and bytes between players, for one and two data owners.

``python -m benchmarks.private_training``: logistic regression on the standardized breast-cancer
training split (398 samples, 30 features) with ``he_tf.models.fit_private`` under ``SecretSharing``
(players ``alice`` and ``bob`` compute, ``dealer`` deals, ``carol`` owns the model), the data held by
one owner (alice), by two owners joined by rows, by two joined by features (alice and bob, who also
compute), by two owners who do not compute (dave and erin send both shares of their data), and by
rows again with the ``SeededDealer`` (a seed per triple to the first player instead of its share). The
baseline is the same gradient descent (same batches, polynomial and hyperparameters) in NumPy float64,
timed in the same run; the ratio is private over plaintext time per epoch (medians over the epochs of
``REPEATS`` trainings). Bytes are the transcript's
(``Transcript.bytes_per_edge``: elements times dtype size) for one whole training: sharing the inputs, every
epoch, revealing the weights. Writes ``benchmarks/results/private_training.{json,md}`` with the machine
and versions.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import he_tf
from benchmarks import machine, result_files
from he_tf.models import fit_private
from he_tf.models.training import batch_schedule, sigmoid_polynomial
from he_tf.protocol import SecretSharing, recording
from he_tf.protocol.providers import Dealer, SeededDealer

REPEATS = 3  # trainings per variant: the time per epoch is the median over all their epochs
PLAYERS = ["alice", "bob", "dealer", "carol", "dave", "erin"]
SETTINGS = dict(epochs=3, batch_size=64, learning_rate=0.5, l2=0.01, sigmoid_range=(-4.0, 4.0),
                sigmoid_degree=1, feature_bounds=11.0, weight_bound=4.0, seed=0)


def data():
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test), y_train, y_test


def plaintext_epoch_seconds(x, y) -> float:
    """The median epoch of the same gradient descent in NumPy."""
    q, s = sigmoid_polynomial(*SETTINGS["sigmoid_range"], SETTINGS["sigmoid_degree"])
    x = np.c_[x, np.ones(len(x))]
    w, lr, l2, seconds = np.zeros(x.shape[1]), SETTINGS["learning_rate"], SETTINGS["l2"], []
    for batches in batch_schedule(len(x), SETTINGS["batch_size"], SETTINGS["epochs"], SETTINGS["seed"]):
        start = time.perf_counter()
        for rows in batches:
            w = w * (1 - lr * l2) - x[rows].T @ ((np.polyval(q, x[rows] @ w / s) - y[rows]) * lr / len(rows))
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def variants(x, y):
    half = len(x) // 2
    return {
        "1 owner (alice)": dict(data={"alice": (x, y)}),
        "2 owners, by rows": dict(data={"alice": (x[:half], y[:half]), "bob": (x[half:], y[half:])}),
        "2 owners, by features": dict(data={"alice": x[:, :12], "bob": x[:, 12:]}, labels=("bob", y),
                                      join="features"),
        "2 outside owners (dave, erin), by rows": dict(data={"dave": (x[:half], y[:half]),
                                                             "erin": (x[half:], y[half:])}),
        "2 owners, by rows, SeededDealer": dict(data={"alice": (x[:half], y[:half]),
                                                      "bob": (x[half:], y[half:])}, provider=SeededDealer),
    }


def measure() -> dict:
    he_tf.set_config(he_tf.LocalConfig(PLAYERS))
    x, x_test, y, y_test = data()
    baseline = plaintext_epoch_seconds(x, y)
    sklearn_accuracy = LogisticRegression().fit(x, y).score(x_test, y_test)
    rows = []
    for name, variant in variants(x, y).items():
        owners, provider = variant.pop("data"), variant.pop("provider", Dealer)
        epochs = []
        for _ in range(REPEATS):
            protocol = SecretSharing(players=("alice", "bob"), dealer="dealer", provider=provider())
            with recording() as transcript:
                fit = fit_private(owners, model_owner="carol", protocol=protocol, progress=False,
                                  **variant, **SETTINGS)
            epochs += fit.epoch_seconds
        edges = transcript.bytes_per_edge()
        epoch = statistics.median(epochs)
        rows.append({
            "variant": name, "epoch_seconds": epoch, "epoch_seconds_all": epochs,
            "plaintext_epoch_seconds": baseline, "ratio": epoch / baseline,
            "bytes_total": sum(edges.values()),
            "bytes_dealer": sum(n for (s, _), n in edges.items() if s == "dealer"),
            "bytes_computing_players": sum(n for (s, r), n in edges.items()
                                           if {s, r} == {"alice", "bob"}),
            "edges": {f"{s}->{r}": n for (s, r), n in sorted(edges.items())},
            "test_accuracy": float(np.mean(fit.predict(x_test) == y_test)),
            "failure_bound": fit.plan.failure_bound,
        })
    versions = {"he_tf": he_tf.__version__, "tensorflow": tf.__version__, "numpy": np.__version__}
    return {"machine": machine.describe({"this process": versions}), "settings": SETTINGS,
            "samples": len(x), "features": x.shape[1], "sklearn_test_accuracy": sklearn_accuracy,
            "rows": rows}


def markdown(result: dict) -> str:
    m, s = result["machine"], result["settings"]
    lines = [
        f"Machine: {m['cpu']} ({m['cpus']} CPUs), {m['os']}; versions {m['versions']}; commit {m['commit']}.",
        f"Logistic regression, {result['samples']} samples x {result['features']} features, "
        f"{s['epochs']} epochs of batches of {s['batch_size']}, sigmoid degree {s['sigmoid_degree']} on "
        f"{list(s['sigmoid_range'])}; "
        f"scikit-learn's test accuracy {result['sklearn_test_accuracy']:.3f}.",
        "",
        "| data | s per epoch | plaintext NumPy s per epoch | private / plaintext | bytes, all edges | "
        "of which dealer -> players | alice <-> bob | test accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['variant']} | {r['epoch_seconds']:.3f} | {r['plaintext_epoch_seconds']:.2e} | "
                     f"{r['ratio']:,.0f} | {r['bytes_total']:,} | {r['bytes_dealer']:,} | "
                     f"{r['bytes_computing_players']:,} | {r['test_accuracy']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    return result_files.run("private_training", measure, markdown, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
