"""Data flows down the layers: a module imports only modules below it, at import time and inside functions."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "he_tf"
# Each module, and the he_tf modules it may import (none of the layers above it).
BELOW = {
    "params": {"_core"},
    "tensor": {"params"},
    "ops": set(),
    "keys": {"_core", "ops", "params"},
    "packing": set(),
    "levels": {"ops", "params", "tensor"},
    "arithmetic": {"levels", "ops", "packing", "tensor", "manipulation"},
    "manipulation": {"levels", "tensor"},
    "encryption": {"ops", "packing", "keys", "params", "tensor"},
    "optable": {"arithmetic", "manipulation"},
    "framework_table": {"optable"},
    "numpy": {"encryption", "framework_table", "routing", "tensor"},
    "torch": {"framework_table", "tensor"},  # and he_tf's generated he_tf.<op> functions
    "models.torch_import": {"models.model", "models.steps", "torch"},
    "models.share_steps": set(),
    "models.hybrid": {"levels", "models.outputs", "models.share_steps", "models.steps", "protocol",
                      "protocol.ckks"},
    "protocol.base": {"protocol.players", "tensor"},
    "interop.protobuf_wire": set(),
    "interop.tenseal": {"_core", "levels", "ops", "packing", "interop.protobuf_wire", "keys", "params",
                        "serialization", "tensor"},
    "remote.policy": set(),
    "remote.pointer": {"protocol", "protocol.players", "remote.policy"},
    "remote.models": {"protocol", "remote.pointer", "remote.policy"},
    "remote.loopback": {"protocol.players"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("he_tf"):
            module = node.module.removeprefix("he_tf").lstrip(".")
            names = [module] if module else [a.name for a in node.names]
            found.update(n for n in names if n)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("he_tf.") for a in node.names if a.name.startswith("he_tf."))
    return found


@pytest.mark.parametrize("module", sorted(BELOW))
def test_module_imports_only_layers_below(module):
    path = PACKAGE / (module.replace(".", "/") + ".py")
    assert _imports(path) <= BELOW[module], f"{module} imports {_imports(path) - BELOW[module]} from above"
