"""Framework adapters' pages: the table of supported functions is the one generated from the adapter's
bindings (``he_tf.framework_table.markdown(module.BINDINGS)``), and the page's python blocks run.

After changing an adapter's bindings, regenerate its page's table with :func:`regenerate`; from the
repository's root (the failing test prints it too):

    PYTHONPATH=python python -c "import sys; sys.path.insert(0, 'tests'); import test_framework_docs as t; t.regenerate('numpy.md')"

A new adapter's page: add ``(page, module)`` to :data:`PAGES`.
"""

from __future__ import annotations

import difflib
import importlib
import re
from pathlib import Path

import pytest

from he_tf import framework_table

DOCS = Path(__file__).resolve().parents[1] / "docs"
# (page under docs/, the adapter module whose BINDINGS its table shows)
PAGES = [("numpy.md", "he_tf.numpy"), ("torch.md", "he_tf.torch")]
REGENERATE = ("PYTHONPATH=python python -c \"import sys; sys.path.insert(0, 'tests'); "
              "import test_framework_docs as t; t.regenerate({page!r})\"")


def generated_table(module: str) -> str:
    return framework_table.markdown(importlib.import_module(module).BINDINGS)


def regenerate(page: str) -> None:
    """Writes the table generated from its module's bindings into ``docs/<page>``, between the markers."""
    (module,) = [m for p, m in PAGES if p == page]
    path = DOCS / page
    text = path.read_text()
    path.write_text(text.replace(framework_table.generated_section(text), generated_table(module)))


@pytest.mark.parametrize("page, module", PAGES)
def test_table_is_generated_from_the_bindings(page, module):
    committed = framework_table.generated_section((DOCS / page).read_text())
    generated = generated_table(module)
    if committed != generated:
        diff = "\n".join(difflib.unified_diff(committed.splitlines(), generated.splitlines(), f"docs/{page}",
                                              f"generated from {module}.BINDINGS", lineterm=""))
        pytest.fail(f"docs/{page}'s table is not the one generated from {module}.BINDINGS:\n{diff}\n"
                    f"regenerate it from the repository's root with\n    {REGENERATE.format(page=page)}")


@pytest.mark.parametrize("page, module", PAGES)
def test_python_blocks_run(page, module):
    path = DOCS / page
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
    assert blocks, f"docs/{page} has no python blocks"
    namespace: dict = {}
    for block in blocks:  # one namespace: later blocks use what earlier ones defined, as a reader would
        exec(compile(block, str(path), "exec"), namespace)  # noqa: S102 (our own docs)
