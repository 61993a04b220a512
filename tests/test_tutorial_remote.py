"""The code in docs/tutorial-remote.md runs, in order, on real player processes, and its assertions hold."""

from doc_blocks import DOCS, run_python_blocks

TUTORIAL = DOCS / "tutorial-remote.md"


def test_remote_tutorial_runs(capsys):
    namespace: dict = {}
    try:
        run_python_blocks(TUTORIAL, at_least=10, namespace=namespace)
    finally:
        if "cluster" in namespace:  # the servers stop even if a block failed
            namespace["cluster"].close()
    printed = capsys.readouterr().out
    assert "I am client" in printed
    # The refusals print their explanations, naming the fix.
    assert "'bob' may not receive 'x'" in printed and "ptr.grant('bob')" in printed
    assert "mixes pointers on ['alice', 'bob']" in printed
    assert "'client' may not receive 'reduce_mean'" in printed and "only an owner grants" in printed
    assert "fit would bring back to 'client'" in printed and "remote.train" in printed
    assert "trained on alice: test accuracy" in printed
