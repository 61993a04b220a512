"""docs/plugins.md: its minimal plugin installs as a package and runs; its other examples run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BLOCK = r"```\w*\n(.*?)```"


def _marked(marker: str) -> list[tuple[str, str]]:
    """(argument of the marker, code) for each ``<!-- marker ... -->`` followed by a code block."""
    return re.findall(rf"<!-- {marker}:? ?(.*?) -->\n{BLOCK}", DOC.read_text(), flags=re.S)


def test_minimal_plugin_installs_and_runs(tmp_path):
    package, site = tmp_path / "package", tmp_path / "site"
    for name, code in _marked("file"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(code)
    assert (package / "pyproject.toml").exists() and (package / "he_tf_cleartext" / "__init__.py").exists()
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
               "--disable-pip-version-check", "--target", str(site), str(package)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    ((_, usage),) = _marked("run")
    env = dict(os.environ, PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", usage], capture_output=True, text=True, timeout=600, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cleartext plugin works" in done.stdout


@pytest.mark.parametrize("index", [0, 1])
def test_the_other_examples_run(index):
    text = DOC.read_text()
    marked = {code for _, code in _marked("file") + _marked("run")}
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if b not in marked]
    assert len(blocks) == 2
    exec(compile(blocks[index], str(DOC), "exec"), {})  # noqa: S102 (our own docs)
