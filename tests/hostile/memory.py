"""This process's peak RSS, resettable: how much one hostile input made it grow."""

from __future__ import annotations


def reset_peak_rss() -> None:
    """Sets the peak RSS to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> float:
    """The peak RSS since the last reset (VmHWM).

    Not ``getrusage().ru_maxrss``: after fork and exec that starts at the parent's peak and ignores the
    reset, so a process started by a large pytest process would seem to have grown, or never to grow.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
