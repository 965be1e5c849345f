"""`roam-emp local --events-out FILE`: every event that reaches our bus, appended to FILE as one
JSON line each, in the envelope a rule target receives (what the EMP's systems would get).

A botocore hook on our functions' EventBridge clients records each entry EventBridge accepted, as
soon as PutEvents answers: before an injected after-the-fact fault (local/faults.py) can hide the
answer from the caller, because the event did reach the bus. (A rule delivering to an SQS queue
would do the same through moto, whose SQS scans the whole queue on every call.)
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..store import aws

REGION = "eu-central-1"


class EventsTap:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def install(self) -> EventsTap:
        aws.add_client_hook("events-tap", self._attach)
        return self

    def uninstall(self) -> None:
        aws.remove_client_hook("events-tap")

    def _attach(self, client: Any, service: str) -> None:
        if service == "events":
            client.meta.events.register("before-parameter-build.eventbridge.PutEvents", self._remember)
            client.meta.events.register("after-call.eventbridge.PutEvents", self._record)

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["roam_emp_put_events"] = params.get("Entries", [])

    def _record(self, http_response: Any, parsed: dict[str, Any], model: Any, context: Any, **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        request = context.get("roam_emp_put_events") or []
        lines = []
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for entry, answer in zip(request, parsed.get("Entries", []), strict=False):
            if "EventId" not in answer:  # refused by EventBridge: not on the bus
                continue
            lines.append(
                json.dumps(
                    {
                        "version": "0",
                        "id": answer["EventId"],
                        "detail-type": entry["DetailType"],
                        "source": entry["Source"],
                        "account": "000000000000",
                        "time": now,
                        "region": REGION,
                        "resources": [],
                        "detail": json.loads(entry["Detail"]),
                    },
                    separators=(",", ":"),
                )
            )
        if lines:
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
