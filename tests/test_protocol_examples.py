"""The code in docs/protocol-examples.md runs, in order, and its assertions hold."""

from doc_blocks import DOCS, python_blocks, run_python_blocks

EXAMPLES = DOCS / "protocol-examples.md"


def test_protocol_examples_run(capsys):
    import he_tf

    try:
        run_python_blocks(EXAMPLES, at_least=9)
    finally:
        he_tf.set_config(he_tf.LocalConfig())
    printed = capsys.readouterr().out
    assert "hybrid accuracy" in printed and "federated accuracy" in printed
    assert "he_tf.convert" in printed  # the mixing error explains the fix


def test_protocols_page_example_runs():
    import he_tf

    # The page's first two blocks run here (the second: comparisons); its cluster block needs servers:
    # tests/test_cluster.py runs that code.
    blocks = python_blocks(DOCS / "protocols.md")
    assert len(blocks) == 3 and "ClusterConfig" in blocks[2]
    try:
        for block in blocks[:2]:
            exec(compile(block, "protocols.md", "exec"), {})  # noqa: S102 (our docs)
    finally:
        he_tf.set_config(he_tf.LocalConfig())
