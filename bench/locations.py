"""Locations benchmarks (issue 3).

1. A full pull of 20,000 locations from the simulator into local mode: wall time, pages per
   second, and DynamoDB write requests; then a second full pull with nothing changed (target: no
   location writes, only a checkpoint transaction per page).
2. Parse + validate cost of one 250-location page, side by side with plain ``json.loads`` of the
   same bytes (the floor), as a ratio.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import httpx

from roam_emp.domain.location_pull import LocationPuller
from roam_emp.ocpi.leniency import parse_inbound
from roam_emp.ocpi.locations import Location
from roam_emp.store.pull_state import PullMode

from .aws_calls import counting

NETWORK = int(os.environ.get("BENCH_LOCATIONS", "20000"))
WRITES = (
    "dynamodb:BatchWriteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:DeleteItem",
)


def _writes(calls: Counter[str]) -> dict[str, int]:
    return {k: v for k, v in calls.items() if k in WRITES}


def _pull(puller: LocationPuller) -> tuple[dict[str, Any], Counter[str], float]:
    with counting() as calls:
        started = time.perf_counter()
        outcome = puller.run(PullMode.FULL, time_left_s=lambda: 900.0)
        elapsed = time.perf_counter() - started
    assert outcome.status == "completed", outcome.summary()
    assert outcome.run is not None
    return outcome.run.model_dump(mode="json"), calls, elapsed


def full_pulls() -> dict[str, Any]:
    import dataclasses

    from roam_emp.config import settings
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator

    with (
        LocalRuntime(log_level="ERROR", schedules=False, ship_logs=False) as runtime,
        RoamSimulator(network_size=NETWORK) as simulator,
    ):
        httpx.post(
            f"{simulator.url}/_sim/locations/reset", json={"size": NETWORK, "pull_min_interval_s": 0}
        ).raise_for_status()
        runtime.admin(
            "POST",
            "/admin/registration",
            {"versions_url": simulator.versions_url, "token_a": simulator.state.token_a},
        ).raise_for_status()
        config = dataclasses.replace(settings(), location_pull_min_interval_s=0)
        first, first_calls, first_s = _pull(LocationPuller.from_settings(config))
        second, second_calls, second_s = _pull(LocationPuller.from_settings(config))
        pages = first["pages"]
        return {
            "locations": NETWORK,
            "first_full_pull": {
                "seconds": round(first_s, 1),
                "pages": pages,
                "pages_per_s": round(pages / first_s, 2),
                "created": first["created"],
                "write_requests": _writes(first_calls),
                "aws_calls": dict(first_calls),
            },
            "unchanged_full_pull": {
                "seconds": round(second_s, 1),
                "pages_per_s": round(second["pages"] / second_s, 2),
                "unchanged": second["unchanged"],
                "write_requests": _writes(second_calls),
                "write_requests_per_page": round(sum(_writes(second_calls).values()) / second["pages"], 2),
                "aws_calls": dict(second_calls),
            },
        }


def parse_cost() -> dict[str, Any]:
    from roam_emp.simulator.network import Network

    network = Network(size=250, seed=3)
    raw = json.dumps([network.locations[i] for i in sorted(network.locations)]).encode()

    def ours() -> None:
        for item in json.loads(raw):
            parse_inbound(Location, item)

    def best(action: Any, repeat: int = 10, runs: int = 5) -> float:
        results = []
        for _ in range(runs):
            started = time.perf_counter()
            for _ in range(repeat):
                action()
            results.append((time.perf_counter() - started) / repeat)
        return min(results)

    floor = best(lambda: json.loads(raw))
    parsed = best(ours)
    return {
        "page_bytes": len(raw),
        "json_loads_ms": round(floor * 1000, 2),
        "parse_validate_ms": round(parsed * 1000, 2),
        "ratio_vs_json_loads": round(parsed / floor, 1),
    }


def run() -> dict[str, Any]:
    return {"page_parse_cost": parse_cost(), "full_pulls": full_pulls()}
