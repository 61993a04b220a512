"""docs/serving.md runs: its Python blocks in order, its `serve` command as a real server on loopback.

The page's ports (8500, 8501) become the ones the server bound (it is started with port 0).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.serving_util import ServerProcess

PAGE = Path(__file__).resolve().parents[1] / "docs" / "serving.md"


def test_serving_page_runs(tmp_path, monkeypatch, capsys):
    text = PAGE.read_text()
    python_blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    commands = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    assert len(python_blocks) == 3 and len(commands) == 1
    command = shlex.split(commands[0])
    assert command[:5] == ["python", "-m", "he_tf", "serve", "scores"], command
    assert command[5:] == ["--port", "8500", "--rest-port", "8501"], command
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(python_blocks[0], f"{PAGE.name} block 1", "exec"), namespace)  # noqa: S102 (our docs)
    server = ServerProcess(tmp_path / "scores", log=tmp_path / "server.log").wait_ready()
    try:
        assert server.ready["model"] == "scores"
        for index, block in enumerate(python_blocks[1:], start=2):
            block = block.replace("8500", str(server.ready["grpc_port"])).replace("8501", str(server.ready["rest_port"]))
            exec(compile(block, f"{PAGE.name} block {index}", "exec"), namespace)  # noqa: S102
    finally:
        assert server.stop() == 0
    assert "Traffic(" in capsys.readouterr().out
    assert [e["code"] for e in server.events() if e.get("event") == "request"] == ["OK"] * 3
