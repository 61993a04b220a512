"""Writing a benchmark's result: ``<name>.json`` (everything) and ``<name>.md`` (its table), printed too."""

from __future__ import annotations

import json
from pathlib import Path


def write(out: Path, name: str, result, table: str) -> None:
    """Writes `result` to ``out/name.json`` and `table` to ``out/name.md``, and prints the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{name}.md").write_text(table + "\n")
    print(table)
