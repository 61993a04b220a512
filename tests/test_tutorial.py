"""The code in docs/tutorial-inference.md runs, in order, and its assertions hold."""

from doc_blocks import DOCS, run_python_blocks

TUTORIAL = DOCS / "tutorial-inference.md"


def test_tutorial_python_blocks_run(capsys):
    run_python_blocks(TUTORIAL, at_least=10)
    printed = capsys.readouterr().out
    # The error examples print their explanations.
    assert "must never hold the secret key" in printed
    assert "takes 30 features per sample" in printed


NETWORKS = DOCS / "tutorial-networks.md"


def test_networks_tutorial_python_blocks_run(capsys):
    run_python_blocks(NETWORKS, at_least=6)
    printed = capsys.readouterr().out
    assert "samples of shape (8, 8, 1)" in printed  # the refused flat request
    assert "layer 'conv' (Conv2D) uses activation 'relu'" in printed
    assert "mode='hybrid'" in printed  # the refusal points to hybrid mode
    assert "hybrid accuracy on 64 images" in printed
