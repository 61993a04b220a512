"""The long fuzzing campaign: every harness for a number of executions, in parallel, with counts.

    python -m tests.fuzz.campaign [--runs 1000000] [--jobs 2] [--out fuzz-campaign] [--seconds N]
                                  [harness ...]

Each harness runs in its own process on a working copy of its committed corpus (new interesting
inputs land there, not in the repository). libFuzzer stops at the first crash; the campaign then
keeps the crash input and restarts the harness for the remaining executions, so a run counts all the
crashes it finds. Writes ``<out>/summary.json``: per harness the executions, crashes (with their
inputs under ``<out>/<harness>/crashes/``), peak RSS, seconds and executions per second.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.fuzz.common import CORPUS

HARNESSES = ("fuzz_ciphertext", "fuzz_variant", "fuzz_plaintext", "fuzz_public_context", "fuzz_secret_key",
             "fuzz_wire", "fuzz_serving_request", "fuzz_key_requirements", "fuzz_tenseal")
ROOT = Path(__file__).resolve().parents[2]
MAX_RESTARTS = 50
_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.M)
# libFuzzer's -rss_limit_mb reads getrusage's maxrss, which Linux carries across exec: a harness started
# straight from a large process (a long test session) would begin "over" the limit. Started from a fork
# (a shell's background job), its high-water mark is its own.
_FRESH_RSS = ["sh", "-c", '"$@" & wait $!', "sh"]


def run_once(harness: str, work: Path, runs: int, seconds: int | None, extra: list[str]) -> dict:
    """One libFuzzer process: its final stats, how it ended, and the crash input if any."""
    crashes = work / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        f"tests.fuzz.{harness}",
        str(work / "corpus"),
        f"-runs={runs}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        *extra,
    ]
    if seconds:
        args.append(f"-max_total_time={seconds}")
    # This tree's he_tf first (not another checkout an editable install points to), and its tests.
    path = os.pathsep.join([str(ROOT / "python"), str(ROOT)])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=path)
    before = set(crashes.iterdir())
    start = time.perf_counter()
    proc = subprocess.run(_FRESH_RSS + args, cwd=ROOT, env=env, capture_output=True, text=True)
    stats = {k: int(v) for k, v in _STAT.findall(proc.stderr)}
    new = sorted(set(crashes.iterdir()) - before)
    return {
        "returncode": proc.returncode,
        "seconds": time.perf_counter() - start,
        "executions": stats.get("number_of_executed_units", 0),
        "peak_rss_mb": stats.get("peak_rss_mb", 0),
        "crash_inputs": [str(p) for p in new],
        "log_tail": proc.stderr[-4000:],
    }


def _drop_from_corpus(corpus: Path, inputs: list[bytes]) -> None:
    """Removes corpus files equal to a crash input, so that a restart does not crash on them again."""
    for f in corpus.iterdir():
        if f.read_bytes() in inputs:
            f.unlink()


def campaign(harness: str, out: Path, runs: int, seconds: int | None, extra: list[str]) -> dict:
    """``runs`` executions of ``harness`` (or ``seconds``), restarting after each crash."""
    work = out / harness
    shutil.rmtree(work / "corpus", ignore_errors=True)
    shutil.copytree(CORPUS / harness, work / "corpus")
    total = {
        "harness": harness,
        "executions": 0,
        "crashes": 0,
        "peak_rss_mb": 0,
        "seconds": 0.0,
        "crash_inputs": [],
        "crash_logs": [],
    }
    while total["executions"] < runs and (seconds is None or total["seconds"] < seconds):
        left_time = None if seconds is None else max(1, int(seconds - total["seconds"]))
        r = run_once(harness, work, runs - total["executions"], left_time, extra)
        total["executions"] += r["executions"]
        total["seconds"] += r["seconds"]
        total["peak_rss_mb"] = max(total["peak_rss_mb"], r["peak_rss_mb"])
        if r["returncode"] == 0:
            break
        total["crashes"] += 1
        total["crash_inputs"] += r["crash_inputs"]
        total["crash_logs"].append(r["log_tail"])
        if not r["crash_inputs"] or total["crashes"] >= MAX_RESTARTS:
            break  # it did not start (a broken harness, not a finding), or enough found
        _drop_from_corpus(work / "corpus", [Path(c).read_bytes() for c in r["crash_inputs"]])
    total["executions_per_second"] = round(total["executions"] / max(total["seconds"], 1e-9), 1)
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("harnesses", nargs="*", default=list(HARNESSES))
    p.add_argument("--runs", type=int, default=1_000_000)
    p.add_argument("--seconds", type=int, default=None, help="stop each harness after this long")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "fuzz-campaign")
    args, extra = p.parse_known_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(
            pool.map(lambda h: campaign(h, args.out, args.runs, args.seconds, extra), args.harnesses)
        )
    summary = [{k: v for k, v in r.items() if k != "crash_logs"} for r in results]
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    for r in results:
        (args.out / r["harness"] / "crash_logs.txt").write_text("\n\n".join(r["crash_logs"]))
        print(
            f"{r['harness']:22s} {r['executions']:>9d} executions  {r['crashes']:>3d} crashes  "
            f"peak RSS {r['peak_rss_mb']:>5d} MB  {r['executions_per_second']:>7.1f}/s"
        )
    return 1 if any(r["crashes"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
