"""Encrypted logistic regression inference: he-tf against TenSEAL, same machine, same run.

Run from the repository root (TenSEAL runs in its own venv, ``make peer-venvs``)::

    python -m benchmarks.inference_vs_tenseal

The job: scikit-learn's breast-cancer test set (114 samples, 30 standardized
features), a logistic regression fitted on the training set, and its sigmoid
evaluated on the ciphertexts as a degree-3 polynomial (``polynomial`` mode;
``logits`` mode stops at the logits). TenSEAL does it its documented way: one
CKKSVector per sample, ``dot`` with the weights, ``+ bias``, ``polyval``.
he-tf runs the same model with ``he_tf.models`` in batch layout (samples in
slots) and vector layout (one sample per ciphertext).

Checks (polynomial mode): he-tf batch layout serves >= 50x TenSEAL's samples
per second (server compute), and vector layout is no slower per sample.
Prints a Markdown table and writes benchmarks/results/inference_vs_tenseal.json.

Each library runs in its own process (both embed SEAL): this driver only
prepares the data and measures the two workers in turn, in interleaved
blocks, with the line protocol of benchmarks/servers.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.servers import ROOT, Server, measure_block, peer_python

MIN_BATCH_SPEEDUP = 50.0  # he-tf batch samples/s over TenSEAL's, server compute
MAX_VECTOR_RATIO = 1.0  # he-tf vector seconds per sample over TenSEAL's
MODES = ("polynomial", "logits")
# The HE standard's largest total modulus bits for 128-bit security (as he_tf.Params enforces).
MAX_MODULUS_BITS = {4096: 109, 8192: 218, 16384: 438, 32768: 881}
SCALE_BITS, OUTER_BITS = 40, 60

# What each implementation measures; one call handles `samples_per_call` samples.
#   server_*: the model on already encrypted inputs; e2e_*: encrypt + model + decrypt.
HETF_OPS = ("server_batch", "server_vector", "e2e_batch", "e2e_vector")
TENSEAL_OPS = ("server_vector", "e2e_vector")


# --- data (driver) ------------------------------------------------------------------------------------------


def prepare_data(path: Path, seed: int) -> dict:
    """Standardized breast-cancer split and a fitted logistic regression, saved for the workers."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    fit = LogisticRegression(max_iter=5000).fit(x_train, y_train)
    data = dict(x_train=x_train, x_test=x_test, y_test=y_test, weights=fit.coef_[0], bias=fit.intercept_[0])
    np.savez(path, **data)
    return data


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# --- workers ------------------------------------------------------------------------------------------------


def _time_calls(call, count: int, min_repeats: int, min_seconds: float) -> list[float]:
    """Seconds of each call(i), i cycling over range(count): >= min_repeats calls and >= min_seconds."""
    seconds: list[float] = []
    i = 0
    while len(seconds) < min_repeats or sum(seconds) < min_seconds:
        start = time.perf_counter()
        call(i % count)
        seconds.append(time.perf_counter() - start)
        i += 1
    return seconds


def _serve(ready: dict, ops: dict) -> None:
    """The line protocol: a ready line, then per request ``<op> <min_repeats> <min_seconds>`` a JSON reply."""
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        name, min_repeats, min_seconds = line.split()
        try:
            call, count, per_call = ops[name]
            seconds = _time_calls(call, count, int(min_repeats), float(min_seconds))
            print(json.dumps({"seconds": seconds, "samples_per_call": per_call}), flush=True)
        except Exception as e:  # reported to the driver, which names the worker
            print(json.dumps({"error": f"{name}: {type(e).__name__}: {e}"}), flush=True)


def hetf_worker(data: dict, degree: int) -> None:
    import tensorflow as tf

    import he_tf
    import he_tf.models as hm
    from he_tf import approx

    x, w, b = data["x_test"], data["weights"], float(data["bias"])
    n = len(x)
    ops: dict = {}
    ready: dict = {"impl": "he-tf", "version": he_tf.__version__, "tensorflow": tf.__version__, "params": {},
                   "outputs": {}, "threads": tf.config.threading.get_intra_op_parallelism_threads()}
    for mode in MODES:
        options = dict(output=mode, data=data["x_train"], degree=degree)
        batch = hm.from_weights(w, b, "sigmoid", layout="batch", **options)
        vector = hm.from_weights(w, b, "sigmoid", layout="vector", **options)
        keys = vector.key_requirements().generate_keys()  # its Galois keys serve both layouts
        public, secret = keys.public, keys.secret
        x_batch = he_tf.encrypt(public, x, layout="batch")
        x_vector = [he_tf.encrypt(public, x[i:i + 1], layout="vector") for i in range(n)]

        def e2e_batch(_, batch=batch, public=public, secret=secret):
            return he_tf.decrypt(secret, batch.predict(he_tf.encrypt(public, x, layout="batch"))).numpy()

        def e2e_vector(i, vector=vector, public=public, secret=secret):
            x_enc = he_tf.encrypt(public, x[i:i + 1], layout="vector")
            return he_tf.decrypt(secret, vector.predict(x_enc)).numpy()

        ops[f"{mode}/server_batch"] = (lambda _, m=batch, xb=x_batch: m.predict(xb), 1, n)
        ops[f"{mode}/server_vector"] = (lambda i, m=vector, xv=x_vector: m.predict(xv[i]), n, 1)
        ops[f"{mode}/e2e_batch"] = (e2e_batch, 1, n)
        ops[f"{mode}/e2e_vector"] = (e2e_vector, n, 1)
        ready["params"][mode] = {"poly_modulus_degree": batch.params.poly_modulus_degree,
                                 "coeff_mod_bit_sizes": list(batch.params.coeff_mod_bit_sizes),
                                 "scale_bits": batch.params.scale_bits, "depth": batch.depth}
        ready["outputs"][mode] = {
            "batch": he_tf.decrypt(secret, batch.predict(x_batch)).numpy()[:, 0].tolist(),
            "vector": [float(he_tf.decrypt(secret, vector.predict(xv)).numpy()[0, 0]) for xv in x_vector],
        }
        if mode == "polynomial":  # the same polynomial for TenSEAL, in the logits' own units
            low, high = batch.input_range
            ready["coeffs"] = approx.sigmoid_polynomial(low, high, degree).tolist()
            ready["input_range"] = [low, high]
    _serve(ready, ops)


def _tenseal_context(depth: int):
    """The smallest 128-bit-secure context for ``depth`` at scale 2^40, as he_tf.Params.for_depth chooses."""
    import tenseal as ts

    bits = [OUTER_BITS] + [SCALE_BITS] * depth + [OUTER_BITS]
    n = min(n for n, limit in MAX_MODULUS_BITS.items() if sum(bits) <= limit)
    context = ts.context(ts.SCHEME_TYPE.CKKS, n, coeff_mod_bit_sizes=bits)
    context.global_scale = 2**SCALE_BITS
    context.generate_galois_keys()
    return context, n, bits


def tenseal_worker(data: dict, coeffs: list[float]) -> None:
    import tenseal as ts

    x, w, b = data["x_test"], data["weights"].tolist(), float(data["bias"])
    rows = [row.tolist() for row in x]
    n = len(rows)
    low_first = list(reversed(coeffs))  # TenSEAL's polyval takes the constant term first
    ops, ready = {}, {"impl": "TenSEAL", "version": ts.__version__, "params": {}, "outputs": {}}
    for mode in MODES:
        # TenSEAL's polyval needs fewer levels than he-tf's for some degrees: give it the smallest depth
        # that works, starting from the dot product's one level.
        for depth in range(1, 8):
            context, ring, bits = _tenseal_context(depth)
            try:
                probe = ts.ckks_vector(context, rows[0]).dot(w) + b
                if mode == "polynomial":
                    probe.polyval(low_first)
                break
            except ValueError:
                continue
        encrypted = [ts.ckks_vector(context, row) for row in rows]

        def model(v, mode=mode):
            z = v.dot(w) + b
            return z.polyval(low_first) if mode == "polynomial" else z

        ops[f"{mode}/server_vector"] = (lambda i, enc=encrypted, f=model: f(enc[i]), n, 1)
        ops[f"{mode}/e2e_vector"] = (
            lambda i, ctx=context, f=model: f(ts.ckks_vector(ctx, rows[i])).decrypt(), n, 1)
        ready["params"][mode] = {"poly_modulus_degree": ring, "coeff_mod_bit_sizes": bits,
                                 "scale_bits": SCALE_BITS, "depth": depth}
        ready["outputs"][mode] = {"vector": [model(v).decrypt()[0] for v in encrypted]}
    _serve(ready, ops)


# --- driver -------------------------------------------------------------------------------------------------


def start_workers(data_path: Path, args: argparse.Namespace) -> dict[str, Server]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    base = [sys.executable, "-m", "benchmarks.inference_vs_tenseal", f"--data={data_path}"]
    workers = {"he-tf": Server("he-tf worker", base + ["--worker=he-tf", f"--degree={args.degree}"], env)}
    coeffs = workers["he-tf"].ready()["coeffs"]
    command = [str(peer_python("tenseal")), *base[1:], "--worker=tenseal", f"--coeffs={json.dumps(coeffs)}"]
    workers["tenseal"] = Server("TenSEAL worker", command, env)
    workers["tenseal"].ready()
    return workers


def measure(workers: dict[str, Server], args: argparse.Namespace, samples: int) -> dict:
    """Per mode and op: blocks alternating between the workers, order reversed every other round."""
    jobs = [(impl, op) for impl, ops in (("he-tf", HETF_OPS), ("tenseal", TENSEAL_OPS)) for op in ops]
    blocks: dict = {mode: {f"{impl}/{op}": [] for impl, op in jobs} for mode in args.modes}
    for mode in args.modes:
        for round_index in range(args.rounds):
            for impl, op in jobs if round_index % 2 == 0 else jobs[::-1]:
                per_sample = op.endswith("vector")
                reply = measure_block(workers[impl], f"{mode}/{op}", samples if per_sample else 3,
                                      args.block_seconds, args.max_foreign_cpu, args.retries, args.quiet_wait)
                reply["s_per_sample"] = [s / reply["samples_per_call"] for s in reply["seconds"]]
                blocks[mode][f"{impl}/{op}"].append(reply)
                print(f"  {mode:10} {impl:8} {op:14} round {round_index + 1}: "
                      f"{statistics.median(reply['s_per_sample']) * 1e3:9.3f} ms per sample", file=sys.stderr)
    return {mode: {key: summarize(b) for key, b in per.items()} for mode, per in blocks.items()}


def summarize(blocks: list[dict]) -> dict:
    medians = [statistics.median(b["s_per_sample"]) for b in blocks]
    return {
        "s_per_sample": min(medians),  # the fastest block's median: other load only ever adds time
        "samples_per_s": 1.0 / min(medians),
        "block_medians": medians,
        "calls": sum(len(b["seconds"]) for b in blocks),
        "foreign_cpu": [round(b["foreign_cpu"], 3) for b in blocks],
    }


def accuracy(workers: dict[str, Server], data: dict) -> dict:
    """Each implementation's decrypted outputs against the plaintext model (logits or its polynomial)."""
    hetf, tenseal = workers["he-tf"].info, workers["tenseal"].info
    logits = data["x_test"] @ data["weights"] + data["bias"]
    plain_labels = logits > 0
    reference = {"logits": logits, "polynomial": np.polyval(hetf["coeffs"], logits)}
    threshold = {"logits": 0.0, "polynomial": 0.5}
    checks: dict = {}
    for mode in MODES:
        for impl, info in (("he-tf", hetf), ("tenseal", tenseal)):
            for layout, values in info["outputs"][mode].items():
                values = np.asarray(values)
                checks[f"{mode}/{impl}/{layout}"] = {
                    "max_abs_error": float(np.max(np.abs(values - reference[mode]))),
                    "labels_identical": int(np.sum((values > threshold[mode]) == plain_labels)),
                    "samples": len(values),
                }
    return checks


def verdicts(results: dict) -> dict:
    out = {}
    for mode, r in results.items():
        t = {key: value["s_per_sample"] for key, value in r.items()}
        out[mode] = {
            "batch_speedup": t["tenseal/server_vector"] / t["he-tf/server_batch"],
            "vector_ratio": t["he-tf/server_vector"] / t["tenseal/server_vector"],
            "e2e_batch_speedup": t["tenseal/e2e_vector"] / t["he-tf/e2e_batch"],
            "e2e_vector_ratio": t["he-tf/e2e_vector"] / t["tenseal/e2e_vector"],
        }
        out[mode]["batch_pass"] = out[mode]["batch_speedup"] >= MIN_BATCH_SPEEDUP
        out[mode]["vector_pass"] = out[mode]["vector_ratio"] <= MAX_VECTOR_RATIO
    return out


def _params(p: dict) -> str:
    return f"N={p['poly_modulus_degree']}, {'/'.join(map(str, p['coeff_mod_bit_sizes']))}"


def table(results: dict, verdict: dict, workers: dict[str, Server]) -> str:
    lines = []
    for mode, r in results.items():
        v = verdict[mode]
        hetf_params = _params(workers["he-tf"].info["params"][mode])
        ts_params = _params(workers["tenseal"].info["params"][mode])

        def cell(key: str) -> str:
            return f"{r[key]['samples_per_s']:,.1f} ({r[key]['s_per_sample'] * 1e3:.3f} ms)"

        lines += [
            f"**{mode}** mode: he-tf {hetf_params} (depth {workers['he-tf'].info['params'][mode]['depth']}); "
            f"TenSEAL {ts_params} (depth {workers['tenseal'].info['params'][mode]['depth']})",
            "",
            "| samples/s (ms per sample) | he-tf batch | he-tf vector | TenSEAL | batch / TenSEAL | "
            "vector / TenSEAL time |",
            "|---|---:|---:|---:|---:|---:|",
            f"| server compute | {cell('he-tf/server_batch')} | {cell('he-tf/server_vector')} | "
            f"{cell('tenseal/server_vector')} | **{v['batch_speedup']:,.0f}x** "
            f"({'PASS' if v['batch_pass'] else 'FAIL'} >= {MIN_BATCH_SPEEDUP:.0f}x) | "
            f"**{v['vector_ratio']:.2f}** ({'PASS' if v['vector_pass'] else 'FAIL'} "
            f"<= {MAX_VECTOR_RATIO:.1f}) |",
            f"| end to end (encrypt + compute + decrypt) | {cell('he-tf/e2e_batch')} | "
            f"{cell('he-tf/e2e_vector')} | {cell('tenseal/e2e_vector')} | {v['e2e_batch_speedup']:,.0f}x | "
            f"{v['e2e_vector_ratio']:.2f} |",
            "",
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inference_vs_tenseal",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = parser.add_argument
    add("--modes", nargs="+", choices=MODES, default=list(MODES))
    add("--degree", type=int, default=3, help="degree of the sigmoid polynomial")
    add("--rounds", type=int, default=3, help="interleaved blocks per op and implementation")
    add("--samples", type=int, default=None,
        help="per-sample ops: at least this many calls per block (default: the whole test set)")
    add("--block-seconds", type=float, default=1.0, help="and at least this long per block")
    add("--max-foreign-cpu", type=float, default=0.25,
        help="re-measure a block while other processes used more CPUs than this (Linux)")
    add("--retries", type=int, default=1, help="re-measurements of a disturbed block")
    add("--quiet-wait", type=float, default=2.0, help="before re-measuring, wait up to this long for quiet")
    add("--seed", type=int, default=0, help="train/test split seed")
    add("--output", type=Path, default=ROOT / "benchmarks" / "results" / "inference_vs_tenseal.json")
    add("--check", action="store_true", help="exit with status 1 if a requirement fails")
    add("--worker", choices=["he-tf", "tenseal"], help=argparse.SUPPRESS)
    add("--data", type=Path, help=argparse.SUPPRESS)
    add("--coeffs", type=json.loads, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        data = dict(np.load(args.data))
        if args.worker == "he-tf":
            hetf_worker(data, args.degree)
        else:
            tenseal_worker(data, args.coeffs)
        return 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "breast_cancer.npz"
        data = prepare_data(data_path, args.seed)
        samples = args.samples or len(data["x_test"])
        workers: dict[str, Server] = {}
        try:
            workers = start_workers(data_path, args)
            results = measure(workers, args, samples)
        finally:
            for worker in workers.values():
                worker.close()
    verdict = verdicts(results)
    checks = accuracy(workers, data)
    hetf, tenseal = workers["he-tf"].info, workers["tenseal"].info
    header = (f"he-tf {hetf['version']} (TensorFlow {hetf['tensorflow']}) vs TenSEAL {tenseal['version']}: "
              f"logistic regression on the breast-cancer test set ({len(data['x_test'])} samples, "
              "30 features), "
              f"sigmoid as a degree-{args.degree} polynomial on logits in "
              f"[{hetf['input_range'][0]:.3g}, {hetf['input_range'][1]:.3g}]; {os.cpu_count()} CPUs; "
              f"fastest of {args.rounds} interleaved blocks; {time.perf_counter() - started:.0f} s")
    errors = "; ".join(f"{key}: max |error| {c['max_abs_error']:.1e}, "
                       f"labels {c['labels_identical']}/{c['samples']}" for key, c in checks.items())
    print(f"\n{header}\n\n{table(results, verdict, workers)}\nAccuracy against plaintext: {errors}")
    report = {
        "requirement": {"min_batch_speedup": MIN_BATCH_SPEEDUP, "max_vector_ratio": MAX_VECTOR_RATIO,
                        "checked_mode": "polynomial"},
        "config": {"rounds": args.rounds, "block_seconds": args.block_seconds, "degree": args.degree,
                   "samples": len(data["x_test"]), "cpus": os.cpu_count(),
                   "machine": platform.processor() or platform.machine(),
                   "he_tf": {k: hetf[k] for k in
                             ("version", "tensorflow", "params", "input_range", "threads")},
                   "tenseal": {k: tenseal[k] for k in ("version", "params")}},
        "results": results, "verdicts": verdict, "accuracy": checks,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    failed = "polynomial" in verdict and not (verdict["polynomial"]["batch_pass"] and
                                               verdict["polynomial"]["vector_pass"])
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
