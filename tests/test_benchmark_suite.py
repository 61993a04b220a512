"""The benchmark suite itself runs on a tiny grid and writes well-formed output (no timing assertions)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import compare, grid, report

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ["seal", "he-tf", "he-tf eager", "tf"]  # TenSEAL is optional (the bench extra)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "benchmarks", "--profile", "tiny", "--output-dir", str(out),
               "--libraries", *LIBRARIES]
    done = subprocess.run(command, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _result(out: Path) -> dict:
    (path,) = out.glob("*-tiny.json")
    return json.loads(path.read_text())


def test_json_has_every_case_with_he_tf_and_seal(tiny_run: Path) -> None:
    result = _result(tiny_run)
    profile = grid.PROFILES["tiny"]
    assert [c["key"] for c in result["cases"]] == [c.key for c in profile.cases()]
    for case in result["cases"]:
        if case["params"] is None:  # polyval:3 needs more levels than N=4096 allows
            assert case["op"] == "polyval:3" and set(case["unavailable"]) >= {"seal@1", "he-tf@1"}
            continue
        for impl in ("seal@1", "he-tf@1") + (("he-tf eager@1", "tf@1") if case["group"] == "grid" else ()):
            r = case["results"][impl]
            assert r["s_per_ct"] > 0 and r["calls"] >= profile.rounds * profile.min_repeats
            assert r["min_s_per_ct"] <= r["s_per_ct"] and r["spread"] >= 0
        # Both encrypted implementations computed the right thing.
        for impl in ("seal@1", "he-tf@1"):
            assert case["results"][impl]["max_error"] < 1e-2, (case["key"], impl)
    assert result["machine"]["cpus"] >= 1 and "he_tf" in result["machine"]["versions"]
    sizes = result["sizes"]["4096"]
    assert sizes["seal"]["ciphertext"]["none"] > sizes["seal"]["ciphertext_seeded"]["none"] > 0
    assert sizes["he-tf"]["public_context"] > sizes["he-tf"]["ciphertext"] > 0
    assert result["peak_memory"]["mib"]["seal@1"] > 0


def test_markdown_lists_every_op(tiny_run: Path) -> None:
    (path,) = tiny_run.glob("*-tiny.md")
    text = path.read_text()
    assert text.index("## Slower than the targets") < text.index("## Ops at N=4096")
    for op, _ in grid.PROFILES["tiny"].ops:
        assert f"| {op} |" in text
    for heading in ("## Scaling with the number of ciphertexts", "## Serialized sizes", "## Peak memory"):
        assert heading in text


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="plots need matplotlib (bench extra)")
def test_plots_are_pngs(tiny_run: Path) -> None:
    pngs = sorted(p.name for p in tiny_run.glob("*.png"))
    assert any("-ops-4096" in p for p in pngs) and any("-count" in p for p in pngs)
    for p in tiny_run.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _case(key: str, **times: float) -> dict:
    group, n, op, count = key.split("/")
    return {"key": key, "group": group, "n": int(n), "op": op, "count": int(count), "unavailable": {},
            "results": {impl.replace("_", " ").replace(" at ", "@"): {"s_per_ct": t} for impl, t in times.items()}}


def test_compare_flags_only_more_than_ten_percent() -> None:
    old = {"cases": [_case("grid/8192/add/64", seal_at_1=1.0, he_tf_at_1=1.0)]}
    new = {"cases": [_case("grid/8192/add/64", seal_at_1=1.05, he_tf_at_1=1.2)]}
    found = compare.regressions(old, new)
    assert [(f["key"], f["impl"]) for f in found] == [("grid/8192/add/64", "he tf@1")]


def test_report_flags_ops_slower_than_seal_or_tenseal() -> None:
    result = {"cases": [
        _case("grid/8192/add/64", seal_at_1=1.0, he_tf_at_1=1.05, tenseal_at_1=2.0),
        _case("grid/8192/multiply/64", seal_at_1=1.0, he_tf_at_1=1.5, tenseal_at_1=2.0),
        _case("grid/8192/serialize/8", seal_at_1=1.0, he_tf_at_1=1.0, tenseal_at_1=0.5),
    ]}
    for case in result["cases"]:  # "he tf@1" -> "he-tf@1"
        case["results"] = {k.replace("he tf", "he-tf"): v for k, v in case["results"].items()}
    flagged = {f["op"]: f["reasons"] for f in report.flagged(result)}
    assert flagged == {"multiply": ["1.50x raw SEAL"], "serialize": ["2.00x TenSEAL"]}
