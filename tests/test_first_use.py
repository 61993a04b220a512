"""What a new user meets first: import he_tf's output, subpackages as attributes, the demo's extras."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

from he_tf import __main__ as cli
from he_tf._tf_import import _filtered

SCRIPT = "import he_tf; print('FIRST'); print(he_tf.models.from_keras.__name__, he_tf.serving.__name__)"


def _run(level: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)


def test_import_prints_each_start_up_line_once_and_subpackages_are_attributes():
    result = _run(None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["FIRST", "from_keras he_tf.serving"]
    messages = [m for m in (re.sub(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ", "", line) for line in result.stderr.splitlines())
                if m]
    assert len(messages) == len(set(messages)), result.stderr  # TensorFlow's wheel prints them twice
    quiet = _run("3")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_filter_keeps_what_is_not_a_repeated_log_line(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    text = ("I0000 00:00:1.5 12 port.cc:153] oneDNN note\n"
            "W0000 00:00:1.6 12 x.cc:1] a warning\nW0000 00:00:2.6 12 x.cc:1] a warning\n"
            "Traceback: something else\n")
    assert _filtered(text) == "W0000 00:00:1.6 12 x.cc:1] a warning\nTraceback: something else\n"


def test_demo_names_the_extra_it_needs(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tqdm" else real(name, *a))
    assert cli.main(["demo"]) == 2
    assert "needs tqdm: pip install 'he-tf[demo]'" in capsys.readouterr().err


def test_serving_names_the_extra_it_needs(monkeypatch, capsys):
    import he_tf.models as hm

    monkeypatch.setitem(sys.modules, "grpc", None)  # as if the serving extra were not installed
    monkeypatch.delitem(sys.modules, "he_tf.serving.client", raising=False)
    assert cli.main(["serve", "any-model"]) == 2
    assert "needs grpc: pip install 'he-tf[serving]'" in capsys.readouterr().err
    try:
        hm.RemoteClient
    except ModuleNotFoundError as e:
        assert "needs grpc: pip install 'he-tf[serving]'" in str(e)
    else:
        raise AssertionError("RemoteClient imported without grpc")
