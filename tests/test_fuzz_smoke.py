"""A short run of every fuzz harness (tests/fuzz/): no crash, no memory past the caps, seeds load.

The harnesses run up front, two at a time, for SECONDS each after their start-up. The long campaign
is ``python -m tests.fuzz.campaign`` (>= 1M executions per harness).
"""

from __future__ import annotations

import concurrent.futures

import pytest

from tests.fuzz import campaign
from tests.fuzz.common import CORPUS

pytest.importorskip("atheris")
SECONDS = 10


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("fuzz")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = pool.map(lambda h: campaign.campaign(h, out, 10**9, SECONDS, []), campaign.HARNESSES)
        return {r["harness"]: r for r in runs}


@pytest.mark.parametrize("harness", campaign.HARNESSES)
def test_harness_runs_without_crashes(results, harness):
    assert any((CORPUS / harness).iterdir()), f"no seeds in {CORPUS / harness}"
    result = results[harness]
    logs = "\n".join(result["crash_logs"])[-4000:]
    assert result["crashes"] == 0, f"{result['crashes']} crashes, inputs {result['crash_inputs']}:\n{logs}"
    assert result["executions"] > 0, f"the harness did not run:\n{logs}"
