"""docs/torch.md: its table of supported functions is the one he_tf.torch.BINDINGS generates, and its Python
blocks run, in order."""

import re
from pathlib import Path

import he_tf.torch as ht
from he_tf import framework_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "torch.md"


def test_table_is_generated_from_the_bindings():
    # Regenerate: python -c "import he_tf.torch as t, he_tf.framework_table as f; print(f.markdown(t.BINDINGS))"
    assert framework_table.generated_section(PAGE.read_text()) == framework_table.markdown(ht.BINDINGS)


def test_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 4
    namespace: dict = {}
    for index, block in enumerate(blocks, start=1):
        exec(compile(block, f"{PAGE.name} block {index}", "exec"), namespace)  # noqa: S102 (our own docs)
