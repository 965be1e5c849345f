"""Local mode plays the EventBridge schedules: a timer invokes the pull Lambda's handler with the
schedule's payload, as the rule does in AWS."""

from __future__ import annotations

import os
import time

from roam_emp.local.runtime import LocalRuntime
from roam_emp.local.triggers import schedule_interval_s
from roam_emp.simulator import RoamSimulator
from roam_emp.topology import FUNCTIONS
from tests.helpers import register


def test_schedule_intervals_from_settings() -> None:
    pull = next(f for f in FUNCTIONS if f.name == "LocationPull")
    delta, full = pull.schedules
    values = {"location_delta_pull_minutes": 2.0, "location_full_pull_cron": "cron(30 2 * * ? *)"}
    assert schedule_interval_s(pull, delta, values.__getitem__) == 120
    assert schedule_interval_s(pull, full, values.__getitem__) == 86400
    assert schedule_interval_s(pull, full, {"location_full_pull_cron": "rate(6 hours)"}.__getitem__) == 21600


def test_the_delta_schedule_fires_and_builds_the_cache(restore_env: None) -> None:
    os.environ["LOCATION_DELTA_PULL_MINUTES"] = "0.02"  # every 1.2 s
    with (
        LocalRuntime(log_level="ERROR", extra_env={"LOCATION_PULL_MIN_INTERVAL_S": "0"}) as rt,
        RoamSimulator(network_size=300) as sim,
    ):
        register(rt, sim).raise_for_status()
        deadline = time.time() + 30
        runs: list[str] = []
        while time.time() < deadline:
            status = rt.admin("GET", "/admin/locations/pull").json()["data"]
            completed = status["sync"]["completed_runs"]
            runs = [r["mode"] for r in completed]
            if "delta" in runs:
                break
            time.sleep(0.3)
        assert rt.triggers is not None and rt.triggers.errors == []
        # The first scheduled delta had nothing to start from, so it built the cache in full;
        # the following ticks are real deltas.
        assert runs[-1] == "full" and "delta" in runs, runs
        assert rt.invoker.invocations["LocationPull"] >= 2
