"""Running a docs page's Python blocks, in order, in one namespace (the tests of tutorials and examples)."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def run_python_blocks(page: Path, at_least: int, namespace: dict | None = None) -> dict:
    """Runs ``page``'s Python blocks (at least ``at_least`` of them) in ``namespace``; returns it."""
    blocks = python_blocks(page)
    assert len(blocks) >= at_least, f"{page.name} has {len(blocks)} Python blocks, expected at least {at_least}"
    namespace = {} if namespace is None else namespace
    for index, block in enumerate(blocks):
        exec(compile(block, f"{page.name} block {index + 1}", "exec"), namespace)  # noqa: S102 (our docs)
    return namespace
