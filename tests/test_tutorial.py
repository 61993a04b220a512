"""The code in docs/tutorial-inference.md runs, in order, and its assertions hold."""

import re
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial-inference.md"


def test_tutorial_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), flags=re.S)
    assert len(blocks) >= 10
    namespace: dict = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{TUTORIAL.name} block {index + 1}", "exec"), namespace)  # noqa: S102 (our docs)
    printed = capsys.readouterr().out
    # The error examples print their explanations.
    assert "must never hold the secret key" in printed
    assert "takes 30 features per sample" in printed


NETWORKS = TUTORIAL.parent / "tutorial-networks.md"


def test_networks_tutorial_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", NETWORKS.read_text(), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{NETWORKS.name} block {index + 1}", "exec"), namespace)  # noqa: S102 (our docs)
    printed = capsys.readouterr().out
    assert "samples of shape (8, 8, 1)" in printed  # the refused flat request
    assert "layer 'conv' (Conv2D) uses activation 'relu'" in printed
    assert "mode='hybrid'" in printed  # the refusal points to hybrid mode
    assert "hybrid accuracy on 64 images" in printed
