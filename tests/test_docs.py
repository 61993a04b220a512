"""The code in README.md runs and its assertions hold; the C++ examples in docs/ are the code."""

import re
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 (our own docs)


def test_architecture_cpp_examples_are_the_code():
    """The kernel example in docs/architecture.md is copied from csrc/tf/, so it compiles and is tested."""
    root = README.parent
    blocks = re.findall(r"```cpp\n(.*?)```", (root / "docs" / "architecture.md").read_text(), flags=re.S)
    assert blocks
    sources = "\n".join(p.read_text() for p in sorted((root / "csrc" / "tf").glob("*.cc")))
    for block in blocks:
        assert textwrap.dedent(block) in sources, block
