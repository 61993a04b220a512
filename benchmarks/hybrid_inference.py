"""Hybrid logistic inference (CKKS linear layer + sigmoid on secret shares) vs pure CKKS vs pure secret sharing.

``python -m benchmarks.hybrid_inference``: breast-cancer test set (171 samples, 30 features), logistic
regression trained in the same run. The client holds the features, the server the model; only the client
learns the probabilities. For each variant: wall time of the online phase (after key generation, which is
reported separately), bytes moved between distinct players (from the transcript: ciphertexts at their
serialized size, ring tensors at 8 bytes per element, the public context once), and accuracy against
the labels and against plaintext TF. Writes ``benchmarks/results/hybrid_inference.{json,md}``.

- hybrid: encrypted features, plaintext weights on the server (one level), convert the logits to
  shares, degree-9 sigmoid polynomial on shares;
- CKKS: the same linear layer, then a degree-3 sigmoid polynomial on ciphertexts (degree 9 would need
  5 levels and N = 32768);
- SecretSharing: features and weights both secret-shared, Beaver matmul, the degree-9 polynomial.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import tensorflow as tf

import he_tf
from benchmarks import result_files
from he_tf import approx
from he_tf.protocol import CKKS, SecretSharing
from he_tf.protocol.providers import Provider

RANGE = 24.0  # logits of the training set lie in about [-24.6, 9.2]


def load():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(C=0.1).fit(scaler.transform(x_train), y_train)
    return scaler.transform(x_test), y_test, model.coef_.T, model.intercept_


def bytes_moved(transcript, contexts: dict) -> int:
    """Bytes of every transcript entry sent from one player to another."""
    total = 0
    for e in transcript:
        if e.sender is None or e.sender == e.receiver:
            continue
        if e.kind == "public_context":
            total += contexts[e.sender]
        elif isinstance(e.value, he_tf.HETensor):
            total += int(tf.reduce_sum(tf.strings.length(he_tf.serialize(e.value))))
        else:
            total += e.nbytes
    return total


def run(name: str, setup: Callable, infer: Callable, x: np.ndarray, y: np.ndarray, plain: np.ndarray) -> dict:
    """Times key generation (``setup``) and the online phase, counts bytes, compares with plaintext."""
    with he_tf.protocol.recording() as transcript:
        start = time.perf_counter()
        protocols = setup()
        setup_seconds = time.perf_counter() - start
        start = time.perf_counter()
        probability = infer(protocols, x)
        seconds = time.perf_counter() - start
    contexts = {p.key_owner: len(p.public_context.serialize()) for p in protocols if isinstance(p, CKKS)}
    labels = probability > 0.5
    return {
        "variant": name, "setup_seconds": setup_seconds, "online_seconds": seconds,
        "bytes_moved": bytes_moved(transcript, contexts),
        "bytes_without_context": bytes_moved([e for e in transcript if e.kind != "public_context"], contexts),
        "dealer_bytes": sum(transcript.bytes_per_edge(sender="dealer").values()),
        "accuracy": float(np.mean(labels == y)), "plaintext_accuracy": float(np.mean((plain > 0.5) == y)),
        "labels_equal_plaintext": int(np.sum(labels == (plain > 0.5))), "samples": len(y),
        "max_probability_error": float(np.max(np.abs(probability - plain))),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    return result_files.run("hybrid_inference", measure, markdown, __doc__.splitlines()[0], argv)


def measure(provider: Callable[[], Provider] | None = None, with_ckks: bool = True) -> list[dict]:
    """The three variants' rows (without pure CKKS unless `with_ckks`); secret sharing takes its triples
    from ``provider()`` (the default dealer when None)."""
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    x, y, w, b = load()
    plain = 1.0 / (1.0 + np.exp(-(x @ w + b)[:, 0]))  # plaintext TF-equivalent sigmoid
    sigmoid9 = list(approx.fit_polynomial(lambda t: approx.sigmoid(RANGE * t), -1.0, 1.0, 9))
    sigmoid3 = list(approx.fit_polynomial(lambda t: approx.sigmoid(RANGE * t), -1.0, 1.0, 3))

    def shares() -> SecretSharing:
        return SecretSharing(players=("client", "server"), dealer="dealer", provider=provider and provider())

    def hybrid(protocols, features):
        ckks, ss = protocols
        with ckks:
            z = tf.matmul(he_tf.define_private_input("client", lambda: features), w / RANGE) + b / RANGE
        p = tf.math.polyval(sigmoid9, he_tf.convert(z, to=ss))
        return he_tf.define_output("client", None, p).numpy()[:, 0]

    def pure_ckks(protocols, features):
        (ckks,) = protocols
        with ckks:
            z = tf.matmul(he_tf.define_private_input("client", lambda: features), w / RANGE) + b / RANGE
            return he_tf.define_output("client", None, tf.math.polyval(sigmoid3, z)).numpy()[:, 0]

    def pure_ss(protocols, features):
        (ss,) = protocols
        with ss:
            xs = he_tf.define_private_input("client", lambda: features)
            ws = he_tf.define_private_input("server", lambda: w / RANGE)
            bs = he_tf.define_private_input("server", lambda: b / RANGE)
            p = tf.math.polyval(sigmoid9, tf.matmul(xs, ws) + bs)
            return he_tf.define_output("client", None, p).numpy()[:, 0]

    def ckks(depth: int) -> CKKS:
        return CKKS(key_owner="client", evaluator="server", params=he_tf.Params.for_depth(depth), rotations=None)

    return [
        run("hybrid: CKKS linear + shares sigmoid (deg 9)", lambda: (ckks(2), shares()), hybrid, x, y, plain),
        *([run("pure CKKS (sigmoid deg 3)", lambda: (ckks(4),), pure_ckks, x, y, plain)] if with_ckks else []),
        run("pure SecretSharing (sigmoid deg 9)", lambda: (shares(),), pure_ss, x, y, plain),
    ]


def markdown(rows: list[dict]) -> str:
    lines = [
        "| variant | setup (s) | online (s) | bytes moved (MB, incl. context) | without context (MB) | accuracy | "
        "plaintext accuracy | labels = plaintext | max prob. error vs sigmoid |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['setup_seconds']:.2f} | {r['online_seconds']:.3f} | {r['bytes_moved'] / 1e6:.2f} | "
            f"{r['bytes_without_context'] / 1e6:.3f} | {r['accuracy']:.3f} | {r['plaintext_accuracy']:.3f} | "
            f"{r['labels_equal_plaintext']}/{r['samples']} | {r['max_probability_error']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
