"""Regressions between two suite results: every case and implementation more than 10% slower.

    python -m benchmarks.compare OLD.json NEW.json     # exit status 1 if any
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

THRESHOLD = 1.10


def regressions(old: dict, new: dict, threshold: float = THRESHOLD) -> list[dict]:
    """Cases measured in both results whose time per ciphertext grew by more than ``threshold``x."""
    before = {c["key"]: c["results"] for c in old["cases"]}
    found = []
    for case in new["cases"]:
        for impl, r in case["results"].items():
            previous = before.get(case["key"], {}).get(impl)
            if previous and r["s_per_ct"] > threshold * previous["s_per_ct"]:
                found.append({"key": case["key"], "impl": impl, "old_s_per_ct": previous["s_per_ct"],
                              "new_s_per_ct": r["s_per_ct"], "ratio": r["s_per_ct"] / previous["s_per_ct"]})
    return sorted(found, key=lambda f: -f["ratio"])


def lines(found: list[dict]) -> list[str]:
    return [f"- `{f['key']}` {f['impl']}: {f['old_s_per_ct'] * 1e3:.4f} -> {f['new_s_per_ct'] * 1e3:.4f} ms/ct "
            f"(**{f['ratio']:.2f}x**)" for f in found]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    old, new = (json.loads(Path(p).read_text()) for p in argv)
    found = regressions(old, new)
    print("\n".join(lines(found)) if found else f"no case more than {THRESHOLD:.2f}x slower")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
