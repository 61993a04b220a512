"""Writing a benchmark's result: ``<name>.json`` (everything) and ``<name>.md`` (its table), printed too."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable


def write(out: Path, name: str, result, table: str) -> None:
    """Writes `result` to ``out/name.json`` and `table` to ``out/name.md``, and prints the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{name}.md").write_text(table + "\n")
    print(table)


RESULTS = Path(__file__).resolve().parent / "results"


def run(name: str, measure: Callable[[], object], markdown: Callable[[object], str], description: str,
        argv: list[str] | None = None):
    """A benchmark's command line (``--out``, benchmarks/results by default): measure, then write its
    JSON and table as ``name``; returns the result."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = measure()
    write(args.out, name, result, markdown(result))
    return result
