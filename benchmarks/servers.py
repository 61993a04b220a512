"""Measuring processes and their line protocol, with a check for other load on the machine.

A server (``he_tf_seal_bench --serve`` or a worker in benchmarks/workers/)
prints one JSON line when ready, then answers each ``<case fields...>
<min_repeats> <min_seconds>`` line with one JSON line holding the seconds per
ciphertext of each timed call. Servers stay idle between requests, so a driver
can measure several of them in turn within the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".venv-peers"
"""The peers' own virtualenvs (``make peer-venvs``): a peer runs in its own venv and process, never in he-tf's."""


def peer_python(name: str) -> Path:
    """The interpreter of peer ``name``'s venv (``openfhe``, ``tfshell``, ``tenseal``), present or not."""
    return PEERS / name / "bin" / "python"


class Server:
    """One measuring process."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.info: dict = {}
        self._log = tempfile.TemporaryFile(mode="w+")  # stderr, shown if the process dies
        self._proc = subprocess.Popen(command, cwd=ROOT, env=env, text=True, bufsize=1, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log)
        self.pid = self._proc.pid

    def _read(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            self._log.seek(0)
            tail = "".join(self._log.readlines()[-15:])
            raise RuntimeError(f"{self.name} exited (code {self._proc.wait()}):\n{tail}")
        return json.loads(line)

    def ready(self) -> dict:
        """Waits for the ready line; returns it (parameters, available ops, versions)."""
        self.info = self._read()
        return self.info

    def query(self, line: str) -> dict:
        """Sends one request line; returns the reply, raising ``RuntimeError`` for an error reply."""
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def measure(self, case: str, min_repeats: int, min_seconds: float) -> dict:
        return self.query(f"{case} {min_repeats} {min_seconds}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()  # end of input: the server exits
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._log.close()


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU seconds the whole machine has used, and process ``pid``); zeros without Linux's /proc."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        own = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait; steal counts as busy
    return busy / tick, (int(own[11]) + int(own[12])) / tick


def wait_for_quiet(max_cpu: float, timeout: float, window: float = 0.25) -> None:
    """Waits up to ``timeout`` s until the machine uses <= ``max_cpu`` CPUs (all servers are idle now)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        before = cpu_seconds(os.getpid())[0]
        time.sleep(window)
        if cpu_seconds(os.getpid())[0] - before <= max_cpu * window:
            return


def measure_block(server: Server, op: str, min_repeats: int, min_seconds: float, max_foreign_cpu: float,
                  retries: int, quiet_wait: float) -> dict:
    """One block of timed calls, adding ``foreign_cpu``: the CPUs that other processes used meanwhile
    (the idle servers included). Measured again, up to ``retries`` times, while that exceeds
    ``max_foreign_cpu``; the least disturbed attempt is returned."""
    best: dict | None = None
    for attempt in range(retries + 1):
        if attempt:
            wait_for_quiet(max_foreign_cpu, quiet_wait)
        machine0, own0 = cpu_seconds(server.pid)
        start = time.perf_counter()
        reply = server.measure(op, min_repeats, min_seconds)
        wall = time.perf_counter() - start
        machine1, own1 = cpu_seconds(server.pid)
        reply["foreign_cpu"] = max(0.0, (machine1 - machine0) - (own1 - own0)) / wall
        reply["retries"] = attempt
        if best is None or reply["foreign_cpu"] < best["foreign_cpu"]:
            best = reply
        if reply["foreign_cpu"] <= max_foreign_cpu:
            break
    return best
