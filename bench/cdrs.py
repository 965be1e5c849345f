"""CDR ingest benchmarks (issue 5): CDRs per second through the local gateway and AWS calls per
CDR; a burst of 1,000 posts (500 CDRs, each sent twice, concurrently) stored exactly once each."""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from .aws_calls import counting

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "ocpi-2.2.1-examples"


def run() -> dict[str, Any]:
    from roam_emp import topology
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.ocpi.auth_header import encode_token
    from roam_emp.simulator import RoamSimulator
    from roam_emp.store import aws
    from roam_emp.store.dynamo import paginate

    template = json.loads((EXAMPLES / "cdr_example.json").read_text())
    with (
        LocalRuntime(log_level="ERROR", schedules=False, ship_logs=False) as runtime,
        RoamSimulator(network_size=10) as simulator,
    ):
        runtime.admin(
            "POST",
            "/admin/registration",
            {"versions_url": simulator.versions_url, "token_a": simulator.state.token_a},
        ).raise_for_status()
        http = httpx.Client(
            base_url=runtime.url,
            timeout=60,
            headers={"Authorization": encode_token(simulator.state.our_token_for_emp or "")},
        )

        def cdr(cdr_id: str) -> dict[str, Any]:
            body = copy.deepcopy(template)
            body["id"] = cdr_id
            return body

        for i in range(20):
            http.post("/ocpi/2.2.1/cdrs", json=cdr(f"WARM{i}")).raise_for_status()
        n = 500
        with counting() as calls:
            started = time.perf_counter()
            for i in range(n):
                http.post("/ocpi/2.2.1/cdrs", json=cdr(f"SEQ{i:05d}")).raise_for_status()
            sequential_s = time.perf_counter() - started
        per_cdr = {k: round(v / n, 2) for k, v in calls.items()}

        burst = [cdr(f"BURST{i:05d}") for i in range(500)] * 2

        def post(body: dict[str, Any]) -> int:
            return http.post("/ocpi/2.2.1/cdrs", json=body).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(post, burst))
        burst_s = time.perf_counter() - started
        items = list(
            paginate(
                "scan", TableName=runtime.env[topology.CDRS_TABLE.env_var], ProjectionExpression="pk, sk"
            )
        )
        stored = sum(1 for i in items if i["pk"]["S"].startswith("CDR#BURST") and i["sk"]["S"] == "CDR")
        conflicts = sum(1 for i in items if i["pk"]["S"].startswith("CDR#BURST") and i["sk"]["S"] != "CDR")
        archived = (
            aws.client("s3")
            .list_objects_v2(Bucket=runtime.env[topology.CDR_ARCHIVE.env_var], Prefix="cdrs/BE/BEC/BURST")
            .get("KeyCount")
        )
        return {
            "sequential": {
                "cdrs": n,
                "seconds": round(sequential_s, 1),
                "cdrs_per_s": round(n / sequential_s, 1),
                "aws_calls_per_cdr": per_cdr,
            },
            "burst_with_duplicates": {
                "posts": len(burst),
                "distinct_cdrs": 500,
                "seconds": round(burst_s, 1),
                "http_200": statuses.count(200),
                "stored_once": stored,
                "conflicts": conflicts,
                "archive_objects": archived,
            },
        }
