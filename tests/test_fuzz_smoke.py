"""A short run of every fuzz harness (tests/fuzz/): no crash, no memory past the cap, seeds load.

The long campaign is ``python -m tests.fuzz.campaign`` (>= 1M executions per harness).
"""

from __future__ import annotations

import pytest

from tests.fuzz import campaign
from tests.fuzz.common import CORPUS

pytest.importorskip("atheris")
SECONDS = 10


@pytest.mark.parametrize("harness", campaign.HARNESSES)
def test_harness_runs_without_crashes(harness, tmp_path):
    assert any((CORPUS / harness).iterdir()), f"no seeds in {CORPUS / harness}"
    result = campaign.campaign(harness, tmp_path, runs=10**9, seconds=SECONDS, extra=[])
    logs = "\n".join(result["crash_logs"])[-6000:]
    assert result["crashes"] == 0, f"{result['crashes']} crashes, inputs {result['crash_inputs']}:\n{logs}"
    assert result["executions"] > 0, f"the harness did not run:\n{logs}"
