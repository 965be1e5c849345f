"""`roam-emp stage-test`: the FAQ's stage list, end to end against the simulator, with its report."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from roam_emp.admin_client import AdminClient
from roam_emp.cli import main
from roam_emp.stage import PlugsurfingStage, StageIds, StageTest
from tests.helpers import register


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


def test_stage_test_against_a_deployed_stack_waits_for_what_plugsurfing_drives(local: Any) -> None:
    """The deployed-stack mode: our side through the admin API client (as against AWS), and for
    every step Plugsurfing drives, a prompt and a wait for evidence in our store. Here the
    "integration team" answering the prompts is the simulator, acting a moment later."""
    rt, sim = local
    if not sim.state.registered:
        register(rt, sim).raise_for_status()
    ids = StageIds(token_uid="04STAGE0000001", contract_id="NLEMPS00000001", location_id="LOC0000011")
    asked: list[str] = []

    def plugsurfing_acts(message: str) -> None:
        asked.append(message)
        if "local start" in message:
            action = (
                "sessions/run",
                {"token_uid": ids.token_uid, "location_id": ids.location_id, "patches": 1},
            )
        else:
            action = ("authorize", {"uid": ids.token_uid, "type": "RFID", "location_id": ids.location_id})
        threading.Timer(
            1.0, lambda: httpx.post(f"{sim.url}/_sim/{action[0]}", json=action[1], timeout=60)
        ).start()

    test = StageTest(
        AdminClient(rt.url), PlugsurfingStage(ask=plugsurfing_acts, patience_s=60), ids, out=lambda _: None
    )
    assert test.run(), [(s.title, s.detail) for s in test.steps if not s.ok]
    assert len(asked) == 3  # local start, authorize (accept), authorize (deny)
    evidence = {s.title: s.detail for s in test.steps}
    full_pull = next(d for t, d in evidence.items() if t.startswith("Location full pull"))
    assert "Plugsurfing's network" not in full_pull  # not known at a real hub
    assert evidence["real-time authorization: accept"].startswith("ALLOWED")
    assert evidence["real-time authorization: deny (disabled token)"].startswith("disabled token -> BLOCKED")
    assert "2 decision(s) this run" in test.steps[-1].detail


def test_deployed_mode_fails_a_step_whose_evidence_never_comes(local: Any) -> None:
    rt, _ = local
    ids = StageIds(token_uid="04STAGE0000002")
    test = StageTest(
        AdminClient(rt.url), PlugsurfingStage(ask=lambda _: None, patience_s=2), ids, out=lambda _: None
    )
    assert not test.step("local start", test.local_start)
    assert "TimeoutError" in test.steps[0].detail
    assert test.hub.slow_hook_fallback(test) == (False, "no authorization decision was recorded in this run")
