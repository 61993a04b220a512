"""Imports TensorFlow with its start-up log lines printed once, and not at all below the user's log level.

TensorFlow's wheel loads its platform code in two shared libraries, each with its own copy of absl's
logging, so the lines it prints before absl is initialized (the oneDNN note, the CUDA driver probe)
come twice, and ``TF_CPP_MIN_LOG_LEVEL`` does not reach them. While TensorFlow is imported, file
descriptor 2 goes to a temporary file; afterwards each distinct line is written back once (INFO and
WARNING lines only if ``TF_CPP_MIN_LOG_LEVEL`` lets them through). Nothing else is dropped: lines that
are not TensorFlow's log lines, and everything if the import fails, are written back as they came.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

# absl's prefix: severity letter, date, time, thread id, file:line]
_LOG_LINE = re.compile(r"^(?P<level>[IWEF])\d{4} [\d:.]+\s+\d+ (?P<message>\S+:\d+\] .*)$")
_ABSL_NOTE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}


def _filtered(text: str) -> str:
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    minimum = int(level) if level.isdigit() else 0
    seen, kept = set(), []
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line.rstrip("\n"))
        key = match["message"] if match else line
        if match or line.strip() == _ABSL_NOTE:
            if key in seen or (match and _LEVELS[match["level"]] < minimum) or (not match and minimum > 0):
                continue
            seen.add(key)
        kept.append(line)
    return "".join(kept)


def import_tensorflow() -> None:
    if "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): import as is
        import tensorflow  # noqa: F401
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            import tensorflow  # noqa: F401

            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            out = text if failed else _filtered(text)
            if out:
                sys.stderr.write(out)
                sys.stderr.flush()


import_tensorflow()
