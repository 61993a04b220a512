"""The workers' side: a ready line, then one JSON line per request (standard library and NumPy only).

Requests: ``run TASK`` runs one online pass (client encrypt -> server -> client decrypt) and replies
with its phases in milliseconds and the bytes each way; ``logits TASK`` replies with the logits of the
last pass. Tasks are built lazily, on the first request, so a worker holds one task's keys at a time.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from typing import Callable

import numpy as np


class Phases:
    """Milliseconds per phase of one pass: ``with phases("encrypt"): ...``."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def __call__(self, name: str) -> "Phases":
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.ms[self._name] = self.ms.get(self._name, 0.0) + (time.perf_counter() - self._start) * 1e3


class Task:
    """One job on one peer. Subclasses set ``info`` (parameters, key bytes) and implement ``run``."""

    info: dict

    def run(self, phases: Phases) -> tuple[np.ndarray, int, int]:
        """One online pass; returns (logits, request bytes, response bytes)."""
        raise NotImplementedError


def load_tasks(path: str) -> dict[str, dict]:
    """The driver's data file: per task the features, and the weights and bias."""
    data = np.load(path)
    return {name: {"x": data[f"x_{name}"], "weights": data["weights"], "bias": float(data["bias"])}
            for name in [k[2:] for k in data.files if k.startswith("x_")]}


def _protocol_stream():
    """The replies' own stream; file descriptor 1 then goes to stderr, where libraries' prints belong."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def serve(impl: str, version: str, make: Callable[[dict], Task], data_path: str) -> None:
    out = _protocol_stream()
    tasks_data = load_tasks(data_path)
    print(json.dumps({"impl": impl, "version": version, "python": platform.python_version(),
                      "tasks": sorted(tasks_data)}), file=out, flush=True)
    current: tuple[str, Task, np.ndarray | None] | None = None
    for line in sys.stdin:
        command, name = line.split()
        try:
            if current is None or current[0] != name:
                current = None  # free the last task's keys first
                start = time.perf_counter()
                task = make(tasks_data[name])
                task.info["setup_s"] = time.perf_counter() - start
                current = (name, task, None)
            _, task, logits = current
            if command == "info":
                reply = task.info
            elif command == "run":
                phases = Phases()
                start = time.perf_counter()
                logits, request, response = task.run(phases)
                online = (time.perf_counter() - start) * 1e3
                current = (name, task, logits)
                reply = {"online_ms": online, "phases_ms": phases.ms, "request_bytes": request,
                         "response_bytes": response}
            elif command == "logits":
                reply = {"logits": None if logits is None else np.asarray(logits, np.float64).tolist()}
            else:
                reply = {"error": f"unknown command {command!r}"}
        except Exception as e:  # reported to the driver, which names the worker
            reply = {"error": f"{command} {name}: {type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"}
        print(json.dumps(reply), file=out, flush=True)
