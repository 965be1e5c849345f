"""Foundation benchmarks.

1. OCPI parse + lenient validation of a CDR, side by side with plain ``json.loads`` of the same bytes
   (the floor): the ratio is what our models cost.
2. AWS calls per authenticated inbound OCPI request, and per outbound hub request (rate limiter),
   measured in local mode against moto's server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.leniency import parse_inbound_json

from .aws_calls import counting
from .harness import as_hub, register_with

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "ocpi-2.2.1-examples"


def _best_of(runs: int, repeat: int, action: Any) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(repeat):
            action()
        best = min(best, (time.perf_counter() - started) / repeat)
    return best


def parse_cost() -> dict[str, Any]:
    raw = (EXAMPLES / "cdr_example.json").read_bytes()
    floor = _best_of(5, 2000, lambda: json.loads(raw))
    ours = _best_of(5, 2000, lambda: parse_inbound_json(Cdr, raw))
    return {
        "cdr_json_loads_us": round(floor * 1e6, 2),
        "cdr_parse_validate_us": round(ours * 1e6, 2),
        "ratio_vs_json_loads": round(ours / floor, 1),
    }


def aws_calls_per_request() -> dict[str, Any]:
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator

    with LocalRuntime(log_level="ERROR", ship_logs=False) as runtime, RoamSimulator() as simulator:
        register_with(runtime, simulator)
        url = "/ocpi/2.2.1/credentials"
        http = as_hub(runtime, simulator)  # one client: no TLS context per request
        http.get(url)  # warm: the secret is cached after the first call
        n = 300
        with counting() as inbound:
            started = time.perf_counter()
            for _ in range(n):
                http.get(url).raise_for_status()
            elapsed = time.perf_counter() - started
        with counting() as rotation:
            runtime.admin("POST", "/admin/registration", {"action": "rotate"}).raise_for_status()
        return {
            "inbound_get_credentials": {
                "requests": n,
                "aws_calls_per_request": round(sum(inbound.values()) / n, 3),
                "by_operation": dict(inbound),
                "requests_per_s_local_gateway": round(n / elapsed, 1),
            },
            "credentials_rotation_put": {
                "aws_calls": sum(rotation.values()),
                "by_operation": dict(rotation),
                "hub_requests": 3,
            },
        }


def run() -> dict[str, Any]:
    return {"parse_cost": parse_cost(), "aws_calls": aws_calls_per_request()}
