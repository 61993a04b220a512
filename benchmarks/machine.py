"""What a result was measured on: machine, versions and the code's commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None


def describe(server_info: dict[str, dict]) -> dict:
    """The machine plus each measuring process's versions (from its ready line)."""
    versions = {"python": platform.python_version()}
    for info in server_info.values():
        for key in ("he_tf", "tensorflow", "seal", "tenseal"):
            if key in info:
                versions[key] = info[key]
    return {
        "cpu": _cpu_model(), "cpus": os.cpu_count(), "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}", "machine": platform.machine(),
        "versions": versions, "commit": _commit(),
    }
