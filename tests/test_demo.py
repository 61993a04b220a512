"""The main job, ``python -m he_tf demo``: it runs, its report shows the required numbers, options work."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from he_tf.__main__ import build_parser, main
from he_tf.models import demo, examples


def run_cli(*args: str) -> subprocess.CompletedProcess:
    # A separate process: the demo makes TensorFlow's ops deterministic process-wide.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "he_tf", "demo", "--no-progress", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def number(report: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([-+0-9.e]+)", report)
    assert match, f"{label!r} not in the report:\n{report}"
    return float(match.group(1))


def test_demo_report():
    done = run_cli("--epochs", "10")
    assert done.returncode == 0, done.stderr
    report = done.stdout
    cancer, diabetes = report.split("Diabetes progression")
    assert "Breast cancer" in cancer and "labels identical" in cancer
    assert re.search(r"labels identical\s+114 / 114", cancer)
    assert number(cancer, "max |logit error|") <= 1e-3
    accuracy = re.search(r"accuracy\s+([0-9.]+)%\s+([0-9.]+)%", cancer)
    assert accuracy and accuracy.group(1) == accuracy.group(2)
    r2 = re.search(r"R2\s+([-0-9.]+)\s+([-0-9.]+)", diabetes)
    assert r2 and abs(float(r2.group(1)) - float(r2.group(2))) < 1e-3
    assert number(diabetes, "max relative error") <= 1e-3
    for phase in ("keys", "encrypt", "compute", "decrypt"):
        assert re.search(rf"^  {phase}\s+(client|server)", report, flags=re.M)
    assert "samples/s" in report and "MB -> server" in report and "MB <- server" in report


def test_help_explains_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--layout", "--output", "--params", "--degree", "--request-size", "--datasets", "--seed"):
        assert option in text
    assert "N:BITS:SCALE" in text and "latency" in text and "throughput" in text


def test_bad_parameters_are_refused_clearly(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--params", "8192:60,40,60"])
    assert "not N:BITS:SCALE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--params", "8192:60,40,60,60,60,60:40"])
    assert "128-bit security" in capsys.readouterr().err


def test_parameters_too_small_for_the_polynomial():
    done = run_cli("--datasets", "breast_cancer", "--epochs", "1", "--output", "polynomial",
                   "--params", "8192:60,40,60:40")
    assert done.returncode == 2
    assert "needs multiplicative depth 4" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name, layout, output", [("wine", "vector", "logits"),
                                                   ("breast_cancer", "batch", "polynomial")])
def test_other_datasets_layouts_and_modes(name, layout, output):
    options = demo.Options(datasets=(name,), layout=layout, output=output, epochs=5, progress=False)
    result = demo.run_dataset(name, options)
    assert result.model.layout == layout and result.model.output == output
    assert abs(result.metrics["encrypted_accuracy"] - result.metrics["plain_accuracy"]) <= 0.01
    text = demo.report(result)
    assert ("max |logit error|" in text) == (output == "logits")
    if layout == "vector":
        assert result.trip.requests == len(result.data.x_test)  # one sample per request: latency
        assert result.metrics["identical_labels"] == len(result.data.x_test)


def test_training_is_deterministic():
    data = examples.load("breast_cancer", seed=3)
    first, second = (examples.train_keras(data, epochs=2, seed=3) for _ in range(2))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    again = examples.load("breast_cancer", seed=3)
    np.testing.assert_array_equal(data.x_test, again.x_test)
