"""Unmodified ReLU networks on digits: hybrid (CKKS + secret sharing) vs pure secret sharing vs pure CKKS.

``python -m benchmarks.hybrid_networks``: scikit-learn's 8x8 digits (1400 training images, the other
397 for testing), two small networks trained briefly in the same run (seeds fixed):

- MLP: 64 -> 32 ReLU -> 10;
- CNN: Conv2D 4 maps 3x3 ReLU (6x6x4), MaxPooling2D 2 (3x3x4), Dense 36 -> 10.

The client holds the images and learns only the labels; the server holds the weights; a dealer supplies
the secret sharing's correlated randomness. Variants:

- hybrid: ``from_keras(net, mode="hybrid", output="label")``: each affine run under CKKS on the client's
  ciphertexts with plaintext weights, ReLU and max pooling exactly on shares, argmax on shares;
- pure secret sharing: the same steps with the images and the server's weights (the imported matrices)
  both secret-shared, Beaver matmuls, the same exact ReLU, max pooling and argmax;
- pure CKKS: the same architecture retrained with square activations and average pooling (CryptoNets'
  recipe, ``from_keras`` in CKKS mode), the logits decrypted by the client, argmax in plaintext.

Twice: on the 397 test images, and on a full batch (``--full-batch``, default 4096: every slot of a
batch-layout ciphertext at N = 8192, the test split repeated), where the CKKS parts cost the same and
the secret-sharing parts grow with the images.

For each: wall time of key generation (setup) and of the online phase, bytes moved between distinct
players from the transcript (as ``benchmarks/hybrid_inference.py`` counts them: ciphertexts serialized,
ring tensors at 8 bytes per element, the public context once), the dealer's share of them, and accuracy
against the labels and against the plaintext model, and the messages between client and server (each a
tensor one sends the other: the latency a network adds grows with them). One measurement each, on a shared machine: orders
of magnitude, not percents. Writes ``benchmarks/results/hybrid_networks.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

import he_tf
import he_tf.models as hm
from benchmarks.hybrid_inference import bytes_moved
from benchmarks.machine import describe
from benchmarks.result_files import write
from he_tf.models.hybrid import HybridModel
from he_tf.models.steps import Dense
from he_tf.protocol import CKKS, SecretSharing

RESULTS = Path(__file__).resolve().parent / "results"


def load_digits_split():
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0)[..., None]
    return images[:1400], data.target[:1400], images[1400:], data.target[1400:]


def network(kind: str, relu: bool, x_train, y_train, seed: int, epochs: int):
    """The Keras network, trained: ReLU and max pooling, or squares and average pooling."""
    import keras

    keras.utils.set_random_seed(seed)
    activation = "relu" if relu else tf.math.square
    if kind == "mlp":
        layers = [keras.layers.Flatten(), keras.layers.Dense(32, activation=activation), keras.layers.Dense(10)]
    else:
        pool = keras.layers.MaxPooling2D(2) if relu else keras.layers.AveragePooling2D(2)
        layers = [keras.layers.Conv2D(4, 3, activation=activation), pool, keras.layers.Flatten(),
                  keras.layers.Dense(10)]
    net = keras.Sequential([keras.Input((8, 8, 1)), *layers, keras.layers.Softmax()], name=f"{kind}_{'relu' if relu else 'square'}")
    net.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    net.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return net


def measure_variant(name: str, setup: Callable, infer: Callable, x, y, plain_labels) -> dict:
    with he_tf.protocol.recording() as transcript:
        start = time.perf_counter()
        protocols = setup()
        setup_seconds = time.perf_counter() - start
        start = time.perf_counter()
        labels = np.asarray(infer(protocols, x)).astype(np.int64)
        seconds = time.perf_counter() - start
    contexts = {p.key_owner: len(p.public_context.serialize()) for p in protocols if isinstance(p, CKKS)}
    return {
        "variant": name, "setup_seconds": setup_seconds, "online_seconds": seconds,
        "bytes_moved": bytes_moved(transcript, contexts),
        "bytes_without_context": bytes_moved([e for e in transcript if e.kind != "public_context"], contexts),
        "dealer_bytes": sum(transcript.bytes_per_edge(sender="dealer").values()),
        "client_server_messages": sum(1 for e in transcript if {e.sender, e.receiver} == {"client", "server"}),
        "accuracy": float(np.mean(labels == y)), "plaintext_accuracy": float(np.mean(plain_labels == y)),
        "labels_equal_plaintext": int(np.sum(labels == plain_labels)), "samples": len(y),
    }


def pure_sharing(model: HybridModel, shares: SecretSharing, x: np.ndarray):
    """Every step on shares: the images from the client, the weights and biases from the server."""
    with shares:
        value = he_tf.define_private_input("client", lambda: x.reshape(len(x), -1))
        for step in model.steps:
            if isinstance(step, Dense):
                weights = he_tf.define_private_input("server", lambda s=step: s.weights)
                bias = he_tf.define_private_input("server", lambda s=step: s.bias)
                value = tf.matmul(value, weights) + bias
            else:
                value = step.shared(value) if hasattr(step, "shared") else step.encrypted(value)
        label = tf.math.argmax(value, axis=1)
    return he_tf.define_output("client", None, label).numpy()


def pure_ckks(model: hm.EncryptedModel, ckks: CKKS, x: np.ndarray):
    with ckks:
        encrypted = he_tf.define_private_input("client", lambda: x.reshape(len(x), -1))
        logits = model.predict(encrypted)
    # This protocol's define_output: the traced predict's result carries a context tensor no protocol
    # has seen, which every CKKS protocol of equal parameters would claim (CKKS.owns).
    return ckks.define_output("client", None, logits).numpy().argmax(1)


def measure(seed: int = 0, epochs: int = 6, images: int | None = None) -> list[dict]:
    """The six rows; ``images`` test images (the 397 of the test split, repeated when more)."""
    he_tf.set_config(he_tf.LocalConfig(["client", "server", "dealer"]))
    x_train, y_train, x_test, y_test = load_digits_split()
    if images is not None:
        index = np.arange(images) % len(x_test)
        x_test, y_test = x_test[index], y_test[index]
    rows = []
    for kind in ("mlp", "cnn"):
        relu_net = network(kind, True, x_train, y_train, seed, epochs)
        hybrid = hm.from_keras(relu_net, mode="hybrid", output="label")
        plain = relu_net.predict(x_test, verbose=0).argmax(1)
        rows.append(measure_variant(f"{kind}: hybrid (ReLU)", hybrid.protocols,
                                    lambda p, x: hybrid.run(x, p), x_test, y_test, plain) | {"network": kind})
        rows.append(measure_variant(
            f"{kind}: pure secret sharing (ReLU)",
            lambda: (SecretSharing(players=("client", "server"), dealer="dealer", outputs=["client"]),),
            lambda p, x: pure_sharing(hybrid, p[0], x), x_test, y_test, plain) | {"network": kind})
        square_net = network(kind, False, x_train, y_train, seed, epochs)
        encrypted = hm.from_keras(square_net, feature_range=(0.0, 1.0))
        square_plain = square_net.predict(x_test, verbose=0).argmax(1)
        rows.append(measure_variant(
            f"{kind}: pure CKKS (square, retrained)",
            lambda: (CKKS(key_owner="client", evaluator="server", params=encrypted.params, rotations=None),),
            lambda p, x: pure_ckks(encrypted, p[0], x), x_test, y_test, square_plain) | {"network": kind})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| variant | setup (s) | online (s) | ms/image | bytes moved (MB, incl. context) | without context (MB) | "
        "from the dealer (MB) | client-server messages | accuracy | plaintext accuracy | labels = plaintext |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['setup_seconds']:.2f} | {r['online_seconds']:.2f} | "
            f"{1e3 * r['online_seconds'] / r['samples']:.2f} | {r['bytes_moved'] / 1e6:.1f} | "
            f"{r['bytes_without_context'] / 1e6:.1f} | {r['dealer_bytes'] / 1e6:.1f} | {r['client_server_messages']} | "
            f"{r['accuracy']:.3f} | "
            f"{r['plaintext_accuracy']:.3f} | {r['labels_equal_plaintext']}/{r['samples']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hybrid_networks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--full-batch", type=int, default=4096,
                        help="images of the second run (a full batch-layout ciphertext at N=8192; 0: none)")
    args = parser.parse_args(argv)
    started, load_before = time.perf_counter(), os.getloadavg()
    rows = measure(args.seed, args.epochs)
    full = measure(args.seed, args.epochs, args.full_batch) if args.full_batch else []
    result = {"config": {"seed": args.seed, "epochs": args.epochs, "test_images": rows[0]["samples"],
                         "full_batch": args.full_batch},
              "rows": rows, "full_batch_rows": full, "machine": describe({"he-tf": {"he_tf": he_tf.__version__, "tensorflow": tf.__version__}}),
              "wall_s": time.perf_counter() - started,
              "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]}
    tables = markdown(rows) + (f"\n\n{args.full_batch} images (the test split repeated):\n\n" + markdown(full)
                               if full else "")
    write(args.out, "hybrid_networks", result, tables)
    try:
        from benchmarks.plots import hybrid_networks_plot
    except ModuleNotFoundError as e:  # matplotlib: the "bench" extra
        print(f"no plot: {e.name} is missing (pip install 'he-tf[bench]')")
    else:
        print(f"wrote {hybrid_networks_plot(result, Path(args.out) / 'hybrid_networks.png')}")
    return rows + full


if __name__ == "__main__":
    main()
