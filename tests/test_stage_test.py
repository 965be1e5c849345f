"""`roam-emp stage-test`: the FAQ's stage list, end to end against the simulator, with its report."""

from __future__ import annotations

import json
from pathlib import Path

from roam_emp.cli import main


def test_stage_test_passes_every_step_and_writes_the_report(restore_env: None, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert main(["stage-test", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["passed"] is True
    steps = [s["step"] for s in data["steps"]]
    for expected in (
        "credentials handshake",
        "Location full pull",
        "Location delta pull",
        "token push",
        "token disable/update",
        "remote start/stop",
        "local start",
        "real-time authorization: accept",
        "real-time authorization: deny",
        "fallback in time",
    ):
        assert any(expected in step for step in steps), expected
    assert all(s["result"] == "PASS" and s["evidence"] for s in data["steps"])
