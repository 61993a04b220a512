"""The code in docs/protocol-examples.md runs, in order, and its assertions hold."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = DOCS / "protocol-examples.md"


def test_protocol_examples_run(capsys):
    import he_tf

    blocks = re.findall(r"```python\n(.*?)```", EXAMPLES.read_text(), flags=re.S)
    assert len(blocks) >= 9
    namespace: dict = {}
    try:
        for index, block in enumerate(blocks):
            exec(compile(block, f"{EXAMPLES.name} block {index + 1}", "exec"), namespace)  # noqa: S102 (our docs)
    finally:
        he_tf.set_config(he_tf.LocalConfig())
    printed = capsys.readouterr().out
    assert "hybrid accuracy" in printed and "federated accuracy" in printed
    assert "he_tf.convert" in printed  # the mixing error explains the fix


def test_protocols_page_example_runs():
    import he_tf

    # The page's first two blocks run here (the second: comparisons); its cluster block needs servers:
    # tests/test_cluster.py runs that code.
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "protocols.md").read_text(), flags=re.S)
    assert len(blocks) == 3 and "ClusterConfig" in blocks[2]
    try:
        for block in blocks[:2]:
            exec(compile(block, "protocols.md", "exec"), {})  # noqa: S102 (our docs)
    finally:
        he_tf.set_config(he_tf.LocalConfig())
