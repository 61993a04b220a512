"""A process that imports he_tf holds exactly one SEAL: the core library's."""

import shutil
import subprocess
from pathlib import Path

import pytest

import he_tf  # noqa: F401  (loads the op library and the Python module)
import he_tf._core  # noqa: F401


def _loaded_libraries() -> set[str]:
    maps = Path("/proc/self/maps").read_text().splitlines()
    return {line.split()[-1] for line in maps if ".so" in line.split()[-1]}


def _defines_seal_code(path: str) -> bool:
    out = subprocess.run(["nm", "-DC", "--defined-only", path], capture_output=True, text=True).stdout
    # Text symbols whose demangled name is in namespace seal (not he_tf functions taking SEAL types).
    return any(line.split(maxsplit=2)[1] in "Tt" and line.split(maxsplit=2)[2].startswith("seal::")
               for line in out.splitlines() if len(line.split(maxsplit=2)) == 3)


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs binutils' nm")
def test_exactly_one_seal_is_loaded():
    libraries = _loaded_libraries()
    names = {Path(p).name for p in libraries}
    assert {"libhe_tf_core.so", "_he_tf_ops.so"} <= names
    assert any(n.startswith("_core.") for n in names)
    with_seal = sorted(Path(p).name for p in libraries if _defines_seal_code(p))
    assert with_seal == ["libhe_tf_core.so"]
