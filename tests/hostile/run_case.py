"""Runs cases of the bad-input matrix in this process, one after the other, printing each verdict.

    python -m tests.hostile.run_case KEY_FOLDER CASE [CASE ...]
    python -m tests.hostile.run_case KEY_FOLDER --keys      writes the key sets the cases load

Before each case it prints ``START name``, after it ``VERDICT {json}``: the outcome (``raised`` with
the exception's type and message, or ``returned`` with whether the result was correct), whether the
exception is of an acceptable family, and the peak RSS growth over the case (crafting the input
included). The peak is reset before each case (``/proc/self/clear_refs``), after TensorFlow's
import, key loading and a warm-up, so the peak (VmHWM) measures that case alone. A case that kills the
process leaves a ``START`` without its ``VERDICT`` (tests/hostile/matrix.py runs it again alone).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

from tests.hostile.memory import peak_rss_mb, reset_peak_rss

START, VERDICT = "START ", "VERDICT "


def _families(exc: BaseException, names: tuple[str, ...]) -> bool:
    import tensorflow as tf

    classes = {
        "ValueError": ValueError,
        "TypeError": TypeError,
        "PermissionError": PermissionError,
        "InvalidArgumentError": tf.errors.InvalidArgumentError,
    }
    # These are never a clean refusal, whatever they derive from.
    if isinstance(exc, (RecursionError, MemoryError, SystemError, AssertionError)):
        return False
    return isinstance(exc, tuple(classes[n] for n in names))


def run(env, name: str) -> dict:
    from tests.hostile import cases

    case = cases.CASES[name]
    reset_peak_rss()
    base = peak_rss_mb()
    start = time.perf_counter()
    verdict: dict = {"case": name}
    try:
        result = case.run(env)
    except BaseException as e:  # noqa: BLE001  (the verdict records whatever escapes)
        verdict.update(
            outcome="raised",
            type=f"{type(e).__module__}.{type(e).__qualname__}",
            message=str(e)[:600],
            family_ok=_families(e, case.expect),
            where=traceback.format_exc(limit=-3)[-1500:],
        )
    else:
        verdict.update(outcome="returned", correct=result.correct, detail=result.detail)
    verdict.update(
        seconds=round(time.perf_counter() - start, 3),
        rss_growth_mb=round(peak_rss_mb() - base, 1),
        baseline_rss_mb=round(base, 1),
    )
    return verdict


def main(argv: list[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tests.hostile import cases

    folder, names = Path(argv[0]), argv[1:]
    if names == ["--keys"]:
        cases.write_keys(folder)
        return 0
    env = cases.Env.load(folder)
    cases.warm_up(env)
    for name in names:
        print(START + name, flush=True)
        print(VERDICT + json.dumps(run(env, name)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
