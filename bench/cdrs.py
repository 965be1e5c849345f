"""CDR ingest benchmarks: CDRs per second through the local gateway and AWS calls on the
acknowledgement path per CDR, side by side with the previous design's work done in the request
(token match, session link, cost check and the event before the 200, replayed here in the same
run); how long until every CdrReceived is on the bus; a burst of 1,000 posts (500 CDRs, each sent
twice, concurrently) stored exactly once each."""

from __future__ import annotations

import copy
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from .aws_calls import counting
from .harness import as_hub, register_with

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "ocpi-2.2.1-examples"


def run() -> dict[str, Any]:
    from roam_emp import topology
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator
    from roam_emp.store import aws
    from roam_emp.store.dynamo import paginate

    template = json.loads((EXAMPLES / "cdr_example.json").read_text())
    events_file = Path(tempfile.mkdtemp()) / "events.jsonl"
    with (
        LocalRuntime(
            log_level="ERROR", schedules=False, ship_logs=False, events_out=str(events_file)
        ) as runtime,
        RoamSimulator(network_size=10) as simulator,
    ):
        register_with(runtime, simulator)
        http = as_hub(runtime, simulator)

        def cdr(cdr_id: str) -> dict[str, Any]:
            body = copy.deepcopy(template)
            body["id"] = cdr_id
            return body

        for i in range(20):
            http.post("/ocpi/2.2.1/cdrs", json=cdr(f"WARM{i}")).raise_for_status()
        n = 500
        # The acknowledgement path: the request's own calls, not the outbox relay's (stream-*).
        with counting(skip_threads=("stream-",)) as calls:
            started = time.perf_counter()
            for i in range(n):
                http.post("/ocpi/2.2.1/cdrs", json=cdr(f"SEQ{i:05d}")).raise_for_status()
            sequential_s = time.perf_counter() - started
        per_cdr = {k: round(v / n, 2) for k, v in calls.items()}
        announced = _wait_for_events(runtime.events_out, {f"SEQ{i:05d}" for i in range(n)})
        drained_s = time.perf_counter() - started
        previous = _previous_design(http, cdr, n)

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
                "aws_calls_on_acknowledgement_path": round(sum(per_cdr.values()), 2),
                "all_cdr_received_on_the_bus_after_s": round(drained_s, 1),
                "cdr_received_events": announced,
            },
            "previous_design_same_run": previous,
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


def _wait_for_events(path: str | None, ids: set[str], seconds: float = 600) -> int:
    from roam_emp.polling import wait_for

    def seen() -> int | None:
        lines = Path(path).read_text().splitlines() if path and Path(path).exists() else []
        found = {
            e["detail"]["cdr_id"]
            for e in map(json.loads, lines)
            if e["detail-type"] == "CdrReceived" and e["detail"].get("cdr_id") in ids
        }
        return len(found) if found >= ids else None

    return wait_for(seen, seconds, interval=0.5)


def _previous_design(http: httpx.Client, cdr: Any, n: int) -> dict[str, Any]:
    """What the request did before the outbox: after the two writes, token match, session link,
    cost check and the event, all before the 200. Replayed per CDR right after its POST in this
    thread, so the rate compares the two designs on the same machine in the same run."""
    from roam_emp.config import settings
    from roam_emp.domain.cdr_enrichment import CdrEnricher
    from roam_emp.store.bus import EventPublisher

    enricher, events = CdrEnricher.from_settings(settings()), EventPublisher(settings().event_bus_name)
    with counting(skip_threads=("stream-",)) as calls:
        started = time.perf_counter()
        for i in range(n):
            body = cdr(f"OLD{i:05d}")
            http.post("/ocpi/2.2.1/cdrs", json=body).raise_for_status()
            facts = enricher.facts(body, None)
            events.publish("CdrReceivedPreviousDesign", {"cdr_id": body["id"], **facts})
        elapsed = time.perf_counter() - started
    per_cdr = {k: round(v / n, 2) for k, v in calls.items()}
    return {
        "cdrs": n,
        "seconds": round(elapsed, 1),
        "cdrs_per_s": round(n / elapsed, 1),
        "aws_calls_per_cdr": per_cdr,
        "aws_calls_before_the_200": round(sum(per_cdr.values()), 2),
    }
