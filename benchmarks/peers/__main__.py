"""Encrypted logistic inference, he-tf against OpenFHE, tf-shell and TenSEAL, in one run.

``make bench-peers`` (or, with the peers' virtualenvs made, ``python -m benchmarks.peers``) from the
repository root. The job: logistic regression logits for all 569 breast-cancer samples (30
standardized features; the model fitted on them) and for 100,000 synthetic samples drawn from the
same distribution (a Gaussian with the data's mean and covariance), client encrypt -> server ->
client decrypt. Each peer runs in its own process and virtualenv; the driver interleaves them, one
pass each per round, the order reversed every other round, and reports medians.

Writes benchmarks/results/peers-<date>.{json,md} and peers-<date>-*.png; ``--check`` exits 1 if a
target of docs/benchmarks.md is missed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.machine import describe
from benchmarks.servers import ROOT, Server, peer_python

WORKERS = {  # name -> (python, module)
    "he-tf": (ROOT / ".venv" / "bin" / "python", "benchmarks.peers.hetf_job"),
    "OpenFHE": (peer_python("openfhe"), "benchmarks.peers.openfhe_job"),
    "tf-shell": (peer_python("tfshell"), "benchmarks.peers.tfshell_job"),
    "TenSEAL": (peer_python("tenseal"), "benchmarks.peers.tenseal_job"),
}
TASKS = {"small": "569 breast-cancer samples", "large": "100,000 synthetic samples"}
ROUNDS = {"small": 15, "large": 3}
WARMUP = {"small": 3, "large": 1}
LARGE_SAMPLES = 100_000

# Targets (issue 13), ratios from one run.
MAX_E2E_RATIO = 0.6  # he-tf online / the faster of OpenFHE and tf-shell, 569 samples
MAX_SERVER_RATIO = 1.0  # he-tf server compute / OpenFHE's
MAX_REQUEST_BYTES = 600_000
MAX_LOGIT_ERROR = 1e-3
MIN_LARGE_SPEEDUP = 2.0  # he-tf samples/s over the best HE peer's, 100,000 samples


def prepare_data(path: Path, seed: int) -> dict[str, np.ndarray]:
    """The tasks' features, the fitted weights and bias, and the plaintext logits."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    fit = LogisticRegression(max_iter=5000).fit(x, y)
    rng = np.random.default_rng(seed)
    large = rng.multivariate_normal(x.mean(axis=0), np.cov(x, rowvar=False), size=LARGE_SAMPLES)
    data = {"x_small": x, "x_large": large, "weights": fit.coef_[0], "bias": np.float64(fit.intercept_[0])}
    np.savez(path, **data)
    return data


def start_workers(names: list[str], data_path: Path) -> dict[str, Server]:
    # The tree's he_tf first (its python/ folder), whatever the venv has installed.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "python")]))
    workers = {}
    for name in names:
        python, module = WORKERS[name]
        if not python.exists():
            print(f"skipping {name}: {python} is missing (make bench-peers makes it)", file=sys.stderr)
            continue
        server = Server(name, [str(python), "-m", module, str(data_path)], env=env)
        server.ready()
        workers[name] = server
    return workers


def run_task(workers: dict[str, Server], task: str, rounds: int, warmup: int) -> dict[str, dict]:
    """Interleaved passes; per worker its info, every pass, and the last pass's logits."""
    results = {name: {"info": w.query(f"info {task}"), "runs": []} for name, w in workers.items()}
    names = list(workers)
    for r in range(warmup + rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            reply = workers[name].query(f"run {task}")
            if r >= warmup:
                results[name]["runs"].append(reply)
        print(f"  {task}: round {r + 1}/{warmup + rounds}", file=sys.stderr)
    for name, w in workers.items():
        results[name]["logits"] = w.query(f"logits {task}")["logits"]
    return results


def summarize(results: dict[str, dict], reference: np.ndarray) -> dict[str, dict]:
    summary = {}
    for name, result in results.items():
        runs = result["runs"]
        phases = sorted({p for run in runs for p in run["phases_ms"]}, key=list(runs[0]["phases_ms"]).index)
        logits = np.asarray(result["logits"])
        summary[name] = {
            "online_ms": statistics.median(run["online_ms"] for run in runs),
            "online_ms_min": min(run["online_ms"] for run in runs),
            "phases_ms": {p: statistics.median(run["phases_ms"].get(p, 0.0) for run in runs) for p in phases},
            "request_bytes": runs[-1]["request_bytes"], "response_bytes": runs[-1]["response_bytes"],
            "samples_per_s": len(reference) / (statistics.median(run["online_ms"] for run in runs) / 1e3),
            "labels_identical": bool(np.array_equal(logits > 0, reference > 0)),
            "label_disagreements": int(np.sum((logits > 0) != (reference > 0))),
            "max_logit_error": float(np.max(np.abs(logits - reference))),
            "info": result["info"], "runs": len(runs),
        }
    return summary


def checks(summary: dict[str, dict]) -> list[tuple[str, float, float, bool]]:
    """(what, value, target, met) for each target that the peers present allow."""
    rows = []
    small, large = summary.get("small", {}), summary.get("large", {})
    if "he-tf" in small:
        he = small["he-tf"]
        fastest = [small[p]["online_ms"] for p in ("OpenFHE", "tf-shell") if p in small]
        if fastest:
            ratio = he["online_ms"] / min(fastest)
            rows.append(("569: he-tf online / faster of OpenFHE, tf-shell", ratio, MAX_E2E_RATIO, ratio <= MAX_E2E_RATIO))
        if "OpenFHE" in small:
            ratio = he["phases_ms"]["server compute"] / small["OpenFHE"]["phases_ms"]["server compute"]
            rows.append(("569: he-tf server compute / OpenFHE's", ratio, MAX_SERVER_RATIO, ratio <= MAX_SERVER_RATIO))
        rows.append(("569: he-tf request bytes", he["request_bytes"], MAX_REQUEST_BYTES,
                     he["request_bytes"] <= MAX_REQUEST_BYTES))
        rows.append(("569: he-tf labels identical (1 = yes)", float(he["labels_identical"]), 1.0, he["labels_identical"]))
        rows.append(("569: he-tf max logit error", he["max_logit_error"], MAX_LOGIT_ERROR,
                     he["max_logit_error"] <= MAX_LOGIT_ERROR))
    if "he-tf" in large:
        peers = [large[p]["samples_per_s"] for p in large if p != "he-tf"]
        if peers:
            ratio = large["he-tf"]["samples_per_s"] / max(peers)
            rows.append(("100k: he-tf samples/s / best peer's", ratio, MIN_LARGE_SPEEDUP, ratio >= MIN_LARGE_SPEEDUP))
    return rows


def markdown(document: dict) -> str:
    lines = [f"# Encrypted logistic inference against peers ({document['date']})", "",
             f"Machine: {document['machine']['cpu']}, {document['machine']['cpus']} CPUs; load average "
             f"{document['load_before']} before, {document['load_after']} after; commit "
             f"{document['machine'].get('commit')}.", ""]
    for task, summary in document["summary"].items():
        lines += [f"## {TASKS[task]}", "",
                  "| system | online ms | breakdown (ms, medians) | request | response | keys | labels | max logit error | samples/s |",
                  "|---|---:|---|---:|---:|---|---|---:|---:|"]
        for name, s in summary.items():
            breakdown = ", ".join(f"{p} {v:.2f}" for p, v in s["phases_ms"].items())
            keys = ", ".join(f"{k} {v / 1e3:.0f} KB" for k, v in s["info"].get("key_bytes", {}).items())
            labels = "identical" if s["labels_identical"] else f"{s['label_disagreements']} differ"
            lines.append(f"| {name} {document['versions'].get(name, '')} | {s['online_ms']:.1f} | {breakdown} | "
                         f"{s['request_bytes'] / 1e3:.0f} KB | {s['response_bytes'] / 1e3:.0f} KB | {keys} | {labels} | "
                         f"{s['max_logit_error']:.1e} | {s['samples_per_s']:,.0f} |")
        lines += ["", "Parameters and layouts:", ""]
        for name, s in summary.items():
            lines.append(f"- {name}: {json.dumps(s['info'].get('params'))}; {s['info'].get('layout')}; "
                         f"{s['info'].get('request_ciphertexts')} request ciphertexts"
                         + (f"; {s['info']['bytes']}" if "bytes" in s["info"] else ""))
        lines.append("")
    lines += ["## Targets", "", "| target | value | limit | met |", "|---|---:|---:|---|"]
    for what, value, target, met in document["checks"]:
        lines.append(f"| {what} | {value:.3g} | {target:.3g} | {'yes' if met else 'NO'} |")
    return "\n".join(lines) + "\n"


def plots(document: dict, stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for task, summary in document["summary"].items():
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
        names = list(summary)
        phases = list(dict.fromkeys(p for s in summary.values() for p in s["phases_ms"]))
        bottom = np.zeros(len(names))
        for phase in phases:
            values = np.array([summary[n]["phases_ms"].get(phase, 0.0) for n in names])
            left.barh(names, values, left=bottom, label=phase)
            bottom += values
        left.set_xlabel("online milliseconds (median), by phase")
        left.set_title(TASKS[task])
        left.legend(fontsize=7, loc="lower right")
        left.invert_yaxis()
        request = [summary[n]["request_bytes"] / 1e6 for n in names]
        response = [summary[n]["response_bytes"] / 1e6 for n in names]
        y = np.arange(len(names))
        right.barh(y - 0.2, request, 0.4, label="request")
        right.barh(y + 0.2, response, 0.4, label="response")
        right.set_yticks(y, names)
        right.invert_yaxis()
        right.set_xlabel("MB per request / response")
        right.legend(fontsize=8)
        fig.tight_layout()
        path = stem.with_name(f"{stem.name}-{task}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default=",".join(WORKERS), help="comma-separated, of " + ", ".join(WORKERS))
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated, of " + ", ".join(TASKS))
    parser.add_argument("--rounds", type=int, default=None, help="rounds per task (default: 15 small, 3 large)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names, tasks = args.peers.split(","), args.tasks.split(",")
    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.npz"
        data = prepare_data(data_path, args.seed)
        workers = start_workers(names, data_path)
        try:
            summary, versions = {}, {n: w.info.get("version", "") for n, w in workers.items()}
            for task in tasks:
                x = data[f"x_{task}"]
                reference = x @ data["weights"] + data["bias"]
                results = run_task(workers, task, args.rounds or ROUNDS[task], WARMUP[task])
                summary[task] = summarize(results, reference)
        finally:
            for w in workers.values():
                w.close()
    date = datetime.date.today().isoformat()
    document = {"date": date, "machine": describe({}), "versions": versions,
                "pythons": {n: w.info.get("python") for n, w in workers.items()},
                "load_before": load_before, "load_after": [round(v, 2) for v in os.getloadavg()],
                "tasks": TASKS, "summary": summary}
    document["checks"] = checks(summary)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"peers-{date}"
    stem.with_suffix(".json").write_text(json.dumps(document, indent=1) + "\n")
    text = markdown(document)
    stem.with_suffix(".md").write_text(text)
    try:
        plots(document, stem)
    except ImportError:
        print("matplotlib is missing: no plots (make bench-deps)", file=sys.stderr)
    print(text)
    return 0 if all(met for *_, met in document["checks"]) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
