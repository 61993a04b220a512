"""The main job, ``python -m he_tf demo``: train in plaintext, predict on encrypted data, report.

For each dataset: train a Keras model, convert it with ``from_keras``, run the
held-out samples through a client and a server that share only bytes, and
compare the decrypted predictions with the plaintext model's.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

import he_tf
from he_tf.models import examples, roundtrip
from he_tf.models.keras_import import from_keras
from he_tf.models.model import EncryptedModel


@dataclasses.dataclass(frozen=True)
class Options:
    """What the command line chooses (see ``python -m he_tf demo --help``)."""

    datasets: tuple[str, ...] = ("breast_cancer", "diabetes")
    layout: str = "batch"
    output: str = "logits"
    degree: int = 3
    params: he_tf.Params | None = None
    request_size: int | None = None
    epochs: int = 30
    seed: int = 0
    progress: bool = True


@dataclasses.dataclass
class Result:
    """One dataset's run: the models, the round trip and the comparison with plaintext."""

    data: examples.Dataset
    model: EncryptedModel
    train_seconds: float
    trip: roundtrip.RoundTrip
    metrics: dict[str, float]


def _bar(total: int, description: str, unit: str, enabled: bool):
    """A progress bar that appears only when the step takes more than a second (and on a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"  {description}", unit=f" {unit}", delay=1.0, leave=False,
                disable=None if enabled else True)


class _EpochProgress(keras.callbacks.Callback):
    def __init__(self, update: Callable[[int], None]) -> None:
        super().__init__()
        self._update = update

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._update(1)


def run_dataset(name: str, options: Options) -> Result:
    data = examples.load(name, seed=options.seed)
    start = time.perf_counter()
    with _bar(options.epochs, "training (Keras)", "epochs", options.progress) as bar:
        keras_model = examples.train_keras(data, epochs=options.epochs, seed=options.seed,
                                           callbacks=[_EpochProgress(bar.update)])
    train_seconds = time.perf_counter() - start
    model = from_keras(keras_model, output=options.output, degree=options.degree, layout=options.layout,
                       params=options.params, data=data.x_train)
    with _bar(len(data.x_test), "encrypted inference", "samples", options.progress) as bar:
        trip = roundtrip.run(model, data.x_test, options.request_size, progress=bar.update)
    keras_outputs = np.asarray(keras_model.predict(data.x_test, verbose=0), dtype=np.float64)
    return Result(data, model, train_seconds, trip, compare(data, model, keras_outputs, trip))


def compare(data: examples.Dataset, model: EncryptedModel, keras_outputs: np.ndarray,
            trip: roundtrip.RoundTrip) -> dict[str, float]:
    """Plaintext (Keras) against encrypted: accuracy or R2, label agreement and the largest errors."""
    prediction, x = trip.prediction, data.x_test
    metrics = {"server_error": float(np.max(np.abs(prediction.raw - model.predict_plain(x))))}
    if data.task == "regression":
        from sklearn.metrics import r2_score

        plain, encrypted = keras_outputs[:, 0], prediction.outputs[:, 0]
        metrics.update(plain_r2=r2_score(data.y_test, plain), encrypted_r2=r2_score(data.y_test, encrypted),
                       max_relative_error=float(np.max(np.abs(encrypted - plain) / np.abs(plain))))
        return metrics
    plain_labels = (keras_outputs[:, 0] > 0.5) if data.task == "binary" else np.argmax(keras_outputs, axis=-1)
    labels = prediction.labels()
    metrics.update(plain_accuracy=float(np.mean(plain_labels == data.y_test)),
                   encrypted_accuracy=float(np.mean(labels == data.y_test)),
                   identical_labels=int(np.sum(labels == plain_labels)),
                   max_probability_error=float(np.max(np.abs(prediction.outputs - keras_outputs))))
    if model.output == "logits":
        metrics["max_logit_error"] = metrics["server_error"]
    return metrics


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _params(params: he_tf.Params) -> str:
    bits = ",".join(str(b) for b in params.coeff_mod_bit_sizes)
    return (f"N={params.poly_modulus_degree}, primes {bits} bits, scale 2^{params.scale_bits} "
            f"(precision about 2^-{params.precision_bits()})")


def report(result: Result) -> str:
    """The dataset's section of the demo's report."""
    data, model, trip, m = result.data, result.model, result.trip, result.metrics
    steps = " -> ".join(repr(s) for s in model.steps)
    if model.activation == "linear":
        output = "linear output (regression)"
    else:
        where = "server (polynomial)" if model.activation_on_server else "client"
        output = f"{model.activation} on the {where}"
    per_request = "" if trip.requests == 1 else f", {trip.requests} requests of <= {trip.request_size}"
    packing = f"; {trip.blocks} feature blocks per ciphertext" if trip.blocks > 1 else ""
    lines = [
        f"{examples.TITLES[data.name]}",
        f"  data       {len(data.x_train)} train / {trip.samples} test samples, {data.n_features} features",
        f"  model      {steps}; {output}",
        f"             depth {model.depth}; {_params(model.params)}; layout {model.layout}",
        f"  training   Keras, {result.train_seconds:.1f} s",
        f"  keys       client {trip.keygen:.2f} s; public context {_mb(trip.context_bytes)} -> server, once",
        f"  encrypt    client {trip.encrypt:.3f} s; {_mb(trip.request_bytes)} -> server{per_request}{packing}",
        f"  compute    server {trip.compute:.4f} s = {trip.samples_per_second:,.0f} samples/s"
        + ("" if trip.requests == 1 else f" ({trip.compute_per_request * 1e3:.1f} ms per request)"),
        f"             (+ parse {trip.parse:.3f} s, serialize {trip.serialize:.3f} s; "
        f"tracing once at startup {trip.warmup:.2f} s)",
        f"  decrypt    client {trip.decrypt:.3f} s; {_mb(trip.response_bytes)} <- server",
        f"  {'':24} {'plaintext':>11} {'encrypted':>11}",
    ]
    if data.task == "regression":
        lines += [f"  {'R2':24} {m['plain_r2']:>11.4f} {m['encrypted_r2']:>11.4f}",
                  f"  {'max relative error':24} {m['max_relative_error']:>23.1e}"]
        return "\n".join(lines)
    lines += [
        f"  {'accuracy':24} {m['plain_accuracy']:>10.2%} {m['encrypted_accuracy']:>11.2%}",
        f"  {'labels identical':24} {m['identical_labels']:>17} / {trip.samples}",
    ]
    if "max_logit_error" in m:
        lines.append(f"  {'max |logit error|':24} {m['max_logit_error']:>23.1e}")
    else:
        low, high = model.input_range
        lines += [f"  {'max |error| vs plaintext polynomial':36} {m['server_error']:>11.1e}",
                  f"  {'max |probability - Keras|':36} {m['max_probability_error']:>11.1e}"
                  f"  (degree {model.steps[-1].degree} fit on logits in [{low:.3g}, {high:.3g}])"]
    return "\n".join(lines)


def run(options: Options) -> list[Result]:
    """Runs the demo and prints its report; returns the results."""
    keras.utils.set_random_seed(options.seed)
    tf.config.experimental.enable_op_determinism()
    print(f"he-tf {he_tf.__version__}: encrypted inference. The server holds the trained model and only the "
          "client's public context;\nthe client encrypts its features and decrypts the predictions. "
          "They exchange nothing but bytes.\n")
    results = []
    for name in options.datasets:
        result = run_dataset(name, options)
        print(report(result), end="\n\n", flush=True)
        results.append(result)
    return results
