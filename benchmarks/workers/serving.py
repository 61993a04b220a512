"""The worker side of the line protocol (benchmarks/servers.py), shared by the Python workers.

Each request line is ``<fields...> <min_repeats> <min_seconds>``; the worker
maps the fields to a :class:`Timed` case and answers with one JSON line of
seconds per ciphertext, the decryption error and the process's peak memory.
``sizes <fields...>`` answers with serialized sizes instead.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import resource
import sys
import time
from typing import Any, Callable, TextIO


@dataclasses.dataclass
class Timed:
    """One case: ``call()`` does the work on ``count`` ciphertexts; ``error(result)`` checks it."""

    call: Callable[[], Any]
    count: int
    error: Callable[[Any], float] = lambda result: 0.0


def time_calls(call: Callable[[], Any], count: int, min_repeats: int, min_seconds: float) -> tuple[list[float], Any]:
    """Seconds per ciphertext of each call (>= min_repeats calls, >= min_seconds in all) and the last result."""
    samples: list[float] = []
    last = None
    gc.disable()
    try:
        while len(samples) < min_repeats or sum(samples) * count < min_seconds:
            start = time.perf_counter()
            out = call()
            samples.append((time.perf_counter() - start) / count)
            last, out = out, None  # the previous results are freed outside the timed call
    finally:
        gc.enable()
    return samples, last


def max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def protocol_stream() -> TextIO:
    """Replies go to the original stdout; anything else the libraries print goes to stderr."""
    stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return stream


def serve(ready: dict, case_for: Callable[[list[str]], Timed], sizes_for: Callable[[list[str]], dict],
          warmup: int, out: TextIO) -> None:
    def reply(message: dict) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    reply({"ready": True, **ready})
    warmed: set[tuple[str, ...]] = set()
    for line in sys.stdin:
        fields = line.split()
        if not fields or fields[0] == "quit":
            break
        try:
            if fields[0] == "sizes":
                reply({"sizes": sizes_for(fields[1:])})
                continue
            key, min_repeats, min_seconds = tuple(fields[:-2]), int(fields[-2]), float(fields[-1])
            case = case_for(list(key))
            if key not in warmed:
                warmed.add(key)
                for _ in range(warmup):
                    case.call()
            samples, last = time_calls(case.call, case.count, min_repeats, min_seconds)
            reply({"samples": samples, "max_error": float(case.error(last)), "max_rss_kb": max_rss_kb()})
        except Exception as e:  # reported to the driver, which names the worker and request
            reply({"error": f"{type(e).__name__}: {e}"})
