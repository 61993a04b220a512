"""CryptoNets under CKKS: he-tf's batch layout against TenSEAL's one-image-per-ciphertext way.

``python -m benchmarks.cryptonets`` from the repository root (TenSEAL in ``.venv-peers/tenseal``,
``make bench-peers``). The network is CryptoNets' (Gilad-Bachrach et al., 2016): 28x28 images padded
to 29x29, a 5x5 convolution with stride 2 and 5 maps (13x13x5 = 845 values), square, dense 845 -> 100,
square, dense 100 -> 10. It is trained briefly (seeded) on scikit-learn's digits, each 8x8 image
scaled up 3x and padded to 28x28 (no download needed; MNIST's geometry, not its data).

- he-tf: ``he_tf.models.from_keras`` and the Client/Server path in batch layout, one image per slot
  and a full batch (as many images as slots), parameters as the compiler chooses them. Times: client
  encrypt (packing, encryption, serialization), server (parse, compute, serialize), client decrypt.
  The convolution is a plaintext-weighted sum of ciphertexts: its cost with zero weights skipped
  (the kernel's behaviour) is measured against the same product with every weight made non-zero
  (``1e-300``: the same result), on the first output columns (``--conv-columns``).
- TenSEAL (``benchmarks/peers/tenseal_cnn_job.py``, its own process and virtualenv): the tutorial
  "Encrypted Convolution on MNIST": ``im2col_encoding``, ``conv2d_im2col`` per map, ``mm``, one
  image per ciphertext, on a few images.
- nGraph-HE2: its published figure, quoted (not measured here).

Each implementation's labels are compared with the plaintext Keras model's. Writes
``benchmarks/results/cryptonets.{json,md,png}``. One measurement per implementation (the he-tf batch
takes minutes): a comparison of orders of magnitude, not of percents.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe
from benchmarks.result_files import write
from benchmarks.servers import ROOT, Server, peer_python

RESULTS = ROOT / "benchmarks" / "results"
TENSEAL_PYTHON = peer_python("tenseal")
NGRAPH_HE2 = {
    "images_per_s": 1998.0,
    "source": "F. Boemer, A. Costache, R. Cammarota, C. Wierzynski, \"nGraph-HE2: A High-Throughput Framework "
              "for Neural Network Inference on Encrypted Data\", WAHC 2019 (arXiv:1908.04172), abstract: "
              "\"state-of-the-art throughput of 1,998 images/s on the CryptoNets network\"",
    "unverified": "the cores of the machine behind this figure (needed for a per-core number) could not be "
                  "checked from the paper's text available here; no per-core figure is derived",
}
PADDING = ((1, 0), (1, 0))  # 28x28 -> 29x29: the 5x5, stride-2 convolution then gives 13x13


def digits_28x28(seed: int):
    """scikit-learn's digits as 28x28x1 images in [0, 1]: each pixel 3x3, then 2 pixels of border."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((3, 3)))  # (1797, 24, 24)
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[..., None].astype(np.float32)
    return train_test_split(images, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)


def cryptonets(seed: int, x_train, y_train, epochs: int):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.ZeroPadding2D(PADDING),
        keras.layers.Conv2D(5, 5, strides=2, activation=tf.math.square, name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(100, activation=tf.math.square, name="dense1"),
        keras.layers.Dense(10, activation="softmax", name="dense2"),
    ], name="cryptonets")
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return model


def run_hetf(keras_model, images: np.ndarray, reference: np.ndarray, columns: int) -> dict:
    import tensorflow as tf

    import he_tf
    import he_tf.models as hm
    from he_tf.models import wire

    start = time.perf_counter()
    model = hm.from_keras(keras_model, feature_range=(0.0, 1.0))  # pixels
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.public_context, model)
    setup = time.perf_counter() - start
    slots = model.params.slot_count
    batch = images[np.arange(slots) % len(images)]  # a full batch: one image per slot
    print(f"he-tf: {model.params}, {slots} images per batch", file=sys.stderr)

    start = time.perf_counter()
    request = client.encrypt(batch)
    encrypt = time.perf_counter() - start
    start = time.perf_counter()
    response = server.handle(request)
    serve = time.perf_counter() - start
    start = time.perf_counter()
    prediction = client.decrypt(response)
    decrypt = time.perf_counter() - start
    expected = reference[np.arange(slots) % len(images)]
    total = encrypt + serve + decrypt

    # The convolution's product with zero weights skipped and with every weight non-zero, on its first
    # output columns (the dense product of all 845 would take minutes).
    x = wire.decode(request, server.public, expect="request").tensor
    first = model.steps[0].weights[:, :columns]
    timings = {}
    for name, weights in (("sparse", first), ("dense", np.where(first == 0.0, 1e-300, first))):
        start = time.perf_counter()
        x @ weights  # eager: the kernel has run when this returns
        timings[name] = time.perf_counter() - start
    return {
        "version": he_tf.__version__, "tensorflow": tf.__version__,
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "params": {"poly_modulus_degree": model.params.poly_modulus_degree,
                   "coeff_mod_bit_sizes": list(model.params.coeff_mod_bit_sizes),
                   "scale_bits": model.params.scale_bits, "depth": model.depth},
        "steps": [repr(s) for s in model.steps], "setup_s": setup, "images": slots,
        "seconds": {"client encrypt": encrypt, "server": serve, "client decrypt": decrypt, "total": total},
        "client_timing": vars(client.timing), "server_timing": vars(server.timing),
        "images_per_s": slots / total, "server_images_per_s": slots / serve,
        "request_bytes": len(request), "response_bytes": len(response),
        "labels_identical": int(np.sum(prediction.labels() == expected.argmax(1))),
        "max_probability_error": float(np.max(np.abs(prediction.outputs - expected))),
        "convolution": {"columns": columns, "nonzeros": int(np.count_nonzero(first)), "entries": int(first.size),
                        "sparse_s": timings["sparse"], "dense_s": timings["dense"],
                        "speedup": timings["dense"] / timings["sparse"]},
    }


def run_tenseal(keras_model, images: np.ndarray, reference: np.ndarray, count: int, data_path: Path) -> dict | None:
    if not TENSEAL_PYTHON.exists():
        print(f"skipping TenSEAL: {TENSEAL_PYTHON} is missing (make bench-peers makes it)", file=sys.stderr)
        return None
    weights = {layer.name: [np.asarray(w, np.float64) for w in layer.get_weights()] for layer in keras_model.layers}
    padded = np.pad(images[:count, :, :, 0], ((0, 0), *PADDING)).astype(np.float64)
    np.savez(data_path, images=padded, stride=2, conv_kernel=weights["conv"][0], conv_bias=weights["conv"][1],
             dense1_kernel=weights["dense1"][0], dense1_bias=weights["dense1"][1],
             dense2_kernel=weights["dense2"][0], dense2_bias=weights["dense2"][1])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    worker = Server("TenSEAL", [str(TENSEAL_PYTHON), "-m", "benchmarks.peers.tenseal_cnn_job", str(data_path)], env)
    try:
        info = worker.ready()
        runs = []
        for i in range(count):
            runs.append(worker.query(f"run {i}"))
            print(f"TenSEAL: image {i + 1}/{count}: {sum(runs[-1]['phases_ms'].values()) / 1e3:.1f} s",
                  file=sys.stderr)
    finally:
        worker.close()
    logits = np.array([r["logits"] for r in runs])
    phases = {p: float(np.median([r["phases_ms"][p] for r in runs])) / 1e3 for p in runs[0]["phases_ms"]}
    total = sum(phases.values())
    return {
        "version": info["version"], "params": info["params"], "layout": info["layout"], "images": count,
        "setup_s": info["setup_s"], "seconds": {**phases, "total": total}, "images_per_s": 1.0 / total,
        "server_images_per_s": 1.0 / phases["server"],
        "request_bytes": runs[0]["request_bytes"], "response_bytes": runs[0]["response_bytes"],
        "public_context_bytes": info["public_context_bytes"],
        "labels_identical": int(np.sum(logits.argmax(1) == reference[:count].argmax(1))),
    }


def table(result: dict) -> str:
    he, ts, cores = result["he-tf"], result.get("tenseal"), result["machine"]["cpus"]
    conv = he["convolution"]

    def rate(value: float) -> str:
        return f"{value:,.1f}" if value >= 10 else f"{value:.3g}"

    def row(name: str, r: dict, threads) -> str:
        s = r["seconds"]
        per = r["images"]
        return (f"| {name} | {r['images']:,} | {s['client encrypt'] / per * 1e3:,.2f} | "
                f"{s['server'] / per * 1e3:,.2f} | "
                f"{s['client decrypt'] / per * 1e3:,.3f} | **{rate(r['images_per_s'])}** | "
                f"{rate(r['images_per_s'] / threads)} | {r['labels_identical']}/{r['images']} |")

    p = he["params"]
    lines = [
        f"CryptoNets (pad 28x28 to 29x29, conv 5x5 stride 2 with 5 maps -> 845, square, dense 845 -> 100, "
        f"square, dense 100 -> 10), trained {result['config']['epochs']} epochs on digits scaled to 28x28 "
        f"(plaintext test accuracy {result['plaintext_accuracy']:.3f}); {result['machine']['cpu']}, {cores} CPUs, "
        f"load average {result['load_average'][0]} at the start and {result['load_average'][1]} at the end "
        f"(other processes' load slows every number).",
        "",
        "| | images | client encrypt (ms/image) | server (ms/image) | client decrypt (ms/image) | images/s | "
        "images/s per core | labels = plaintext |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row(f"he-tf {he['version']}, batch layout (one image per slot), N={p['poly_modulus_degree']}", he, cores),
    ]
    if ts:
        lines.append(row(f"TenSEAL {ts['version']}, im2col (one image per ciphertext), "
                         f"N={ts['params']['poly_modulus_degree']}", ts, cores))
    lines += [
        f"| nGraph-HE2, published (not measured here) | | | | | {NGRAPH_HE2['images_per_s']:,.0f} | not verified | |",
        "",
        f"he-tf: {'/'.join(map(str, p['coeff_mod_bit_sizes']))}, scale 2^{p['scale_bits']}, depth {p['depth']}; "
        f"steps {', '.join(he['steps'])}; request {he['request_bytes'] / 2**20:,.0f} MiB, response "
        f"{he['response_bytes'] / 2**20:,.1f} MiB for {he['images']:,} images; largest probability error "
        f"{he['max_probability_error']:.1e}.",
        f"Convolution over ciphertexts, {conv['columns']} output columns ({conv['nonzeros']:,} non-zero weights of "
        f"{conv['entries']:,}): {conv['sparse_s']:.2f} s with zero weights skipped, {conv['dense_s']:.2f} s with "
        f"a multiply-and-add per entry: **{conv['speedup']:.1f}x**.",
    ]
    if ts:
        lines.append(f"TenSEAL: {'/'.join(map(str, ts['params']['coeff_mod_bit_sizes']))}; request "
                     f"{ts['request_bytes'] / 2**20:.1f} MiB per image; median of {ts['images']} images. "
                     f"he-tf / TenSEAL images per second: **{he['images_per_s'] / ts['images_per_s']:,.0f}x**.")
    lines.append(f"nGraph-HE2: {NGRAPH_HE2['source']}; {NGRAPH_HE2['unverified']}.")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cryptonets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (seeded)")
    parser.add_argument("--tenseal-images", type=int, default=2, help="images TenSEAL classifies (about 70 s each)")
    parser.add_argument("--conv-columns", type=int, default=15,
                        help="output columns of the convolution timed with and without zero weights skipped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_before = time.perf_counter(), os.getloadavg()
    x_train, x_test, y_train, y_test = digits_28x28(args.seed)
    keras_model = cryptonets(args.seed, x_train, y_train, args.epochs)
    reference = keras_model.predict(x_test, verbose=0).astype(np.float64)
    result = {
        "config": {"epochs": args.epochs, "seed": args.seed, "test_images": len(x_test)},
        "plaintext_accuracy": float(np.mean(reference.argmax(1) == y_test)),
        "he-tf": run_hetf(keras_model, x_test, reference, args.conv_columns),
        "ngraph_he2": NGRAPH_HE2,
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["tenseal"] = run_tenseal(keras_model, x_test, reference, args.tenseal_images, Path(tmp) / "cnn.npz")
    versions = {"he-tf": {"he_tf": result["he-tf"]["version"], "tensorflow": result["he-tf"]["tensorflow"]}}
    if result["tenseal"]:
        versions["tenseal"] = {"tenseal": result["tenseal"]["version"]}
    result["machine"] = describe(versions)
    result["wall_s"] = time.perf_counter() - started
    # The machine's 1-minute load average at the start and the end: other processes' load slows every
    # number here (one measurement each, nothing re-measured).
    result["load_average"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    write(args.out, "cryptonets", result, table(result))
    from benchmarks.plots import cryptonets_plot

    print(f"wrote {cryptonets_plot(result, args.out / 'cryptonets.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
