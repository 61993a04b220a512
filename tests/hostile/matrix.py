"""Runs bad-input cases in worker processes and finds which case killed a worker.

Importing TensorFlow takes seconds, so a worker (tests/hostile/run_case.py) runs a queue of cases,
resetting the peak RSS before each. When a worker dies (a signal, a timeout), the case it had started
is run again alone in a fresh process, whose outcome is that case's; the rest of the queue continues
in a new worker. Cases that pass therefore share processes, and every crash is attributed to the
case that causes it on its own.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.hostile.run_case import START, VERDICT

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600


@dataclasses.dataclass
class Outcome:
    """One case's result: its verdict, or how its process ended without one."""

    returncode: int  # 0 when the case ran to its verdict; negative: the signal that killed the process
    verdict: dict | None
    log: str = ""  # the end of the process's stderr, when it did not reach a verdict


def _worker(folder: Path, names: list[str]) -> tuple[int, str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "python")]))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.hostile.run_case", str(folder), *names],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        return proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return -9, out, err + f"\n(timed out after {TIMEOUT_S} s)"


def _parse(stdout: str) -> tuple[dict[str, dict], str | None]:
    """The verdicts printed, and the case started without a verdict (if any)."""
    verdicts, started = {}, None
    for line in stdout.splitlines():
        if line.startswith(START):
            started = line[len(START) :]
        elif line.startswith(VERDICT):
            v = json.loads(line[len(VERDICT) :])
            verdicts[v["case"]] = v
            started = None
    return verdicts, started


def run_queue(folder: Path, names: list[str]) -> dict[str, Outcome]:
    """Runs ``names`` in order, in as few processes as crashes allow."""
    results: dict[str, Outcome] = {}
    queue = list(names)
    while queue:
        code, out, err = _worker(folder, queue)
        verdicts, started = _parse(out)
        results.update({n: Outcome(0, v) for n, v in verdicts.items()})
        queue = [n for n in queue if n not in verdicts]
        if not queue:
            break
        culprit = started or queue[0]
        if verdicts:
            # It ran after other cases: its own process decides (not state another case left behind).
            code, out, err = _worker(folder, [culprit])
            verdicts, _ = _parse(out)
        results[culprit] = (
            Outcome(0, verdicts[culprit])
            if culprit in verdicts
            else Outcome(code if code else -1, None, err[-4000:])
        )
        queue.remove(culprit)
    return results


def run_matrix(folder: Path, names: list[str], workers: int = 2) -> dict[str, Outcome]:
    """Every case in ``names``, spread round-robin over ``workers`` parallel queues."""
    queues = [names[i::workers] for i in range(workers)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda q: run_queue(folder, q), [q for q in queues if q]))
    return {n: o for part in parts for n, o in part.items()}


def write_keys(folder: Path) -> None:
    code, _, err = _worker(folder, ["--keys"])
    if code != 0:
        raise RuntimeError(f"cannot write the key sets: {err[-3000:]}")


def summary_line(name: str, o: Outcome) -> str:
    """One line per case: how it ended, the exception or the result, the RSS growth."""
    if o.verdict is None:
        return (
            f"{name:36s} killed by signal {-o.returncode}"
            if o.returncode < 0
            else f"{name:36s} exit {o.returncode}"
        )
    v = o.verdict
    if v["outcome"] == "raised":
        what = f"raised {v['type'].rsplit('.', 1)[-1]}{'' if v['family_ok'] else ' (wrong family)'}"
    else:
        what = "returned " + ("correct" if v["correct"] else "WRONG: " + v["detail"][:80])
    return f"{name:36s} {what:60s} RSS +{v['rss_growth_mb']:.0f} MB, {v['seconds']:.2f} s"


if __name__ == "__main__":
    import tempfile

    from tests.hostile.cases import CASES

    with tempfile.TemporaryDirectory() as tmp:
        write_keys(Path(tmp))
        selected = sys.argv[1:] or sorted(CASES)
        outcomes = run_matrix(Path(tmp), selected)
        for n in selected:
            print(summary_line(n, outcomes[n]))
