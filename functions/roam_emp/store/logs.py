"""Our own CloudWatch Logs, searched with Logs Insights for the support bundle: the request URL and
method, HTTP and OCPI status and the X-Request-ID/X-Correlation-ID of every call about one session,
CDR or token (FAQ "What information should partners include when raising support issues?").

Every function writes one JSON line per request (``ocpi request``) and per outbound call
(``hub call``) with those fields bound (handlers/_runtime.py, api/http.py, hub/client.py), so one
query over the functions' log groups finds them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import aws

# The keys a support bundle looks lines up by; they are bound to log lines under these names.
SEARCHABLE = ("session_id", "cdr_id", "token_uid", "contract_id")

# What a support ticket needs from a line (the rest of the line stays in CloudWatch).
KEPT = (
    "timestamp",
    "level",
    "message",
    "function_name",
    "request_method",
    "request_path",
    "http_status",
    "status_code",
    "status_message",
    "x_request_id",
    "x_correlation_id",
    "x_original_protocol",
    "method",
    "url",
    "outbound_x_request_id",
    "outbound_x_correlation_id",
    "error",
    "session_id",
    "cdr_id",
    "token_uid",
    "cpo",
    "location_id",
    "evse_uid",
)


def _quoted(value: str) -> str:
    """A Logs Insights string literal (the value comes from an operator's admin request)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def insights_query(identifiers: Mapping[str, str], limit: int) -> str:
    clauses = " or ".join(f"{key} = {_quoted(value)}" for key, value in identifiers.items())
    return f"fields @timestamp, @message, @log | filter {clauses} | sort @timestamp desc | limit {limit}"


def _matches(line: Mapping[str, Any], identifiers: Mapping[str, str]) -> bool:
    return any(str(line.get(key)) == value for key, value in identifiers.items())


@dataclass
class LogFindings:
    status: str  # Complete | Running (budget spent: the query id lets an operator look later) | ...
    query: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    query_id: str | None = None
    scanned_bytes: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "query": self.query,
            "query_id": self.query_id,
            "scanned_bytes": self.scanned_bytes,
            "lines": self.lines,
        }


@dataclass
class LogSearch:
    log_groups: tuple[str, ...]
    budget_s: float = 20.0  # the admin API sits behind API Gateway's 29 s limit
    poll_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def find(
        self, identifiers: Mapping[str, str], since: datetime, until: datetime, limit: int = 500
    ) -> LogFindings:
        wanted = {k: v for k, v in identifiers.items() if k in SEARCHABLE and v}
        if not wanted:
            raise ValueError(f"nothing to search for: give one of {', '.join(SEARCHABLE)}")
        query = insights_query(wanted, limit)
        if not self.log_groups:
            return LogFindings(status="NotConfigured", query=query)
        logs = aws.client("logs")
        query_id = logs.start_query(
            logGroupNames=list(self.log_groups),
            startTime=int(since.timestamp()),
            endTime=int(until.timestamp()) + 1,
            queryString=query,
            limit=limit,
        )["queryId"]
        deadline = time.monotonic() + self.budget_s
        while True:
            answer = logs.get_query_results(queryId=query_id)
            status = answer["status"]
            if status not in ("Scheduled", "Running") or time.monotonic() >= deadline:
                break
            self.sleep(self.poll_s)
        findings = LogFindings(
            status=status,
            query=query,
            query_id=query_id,
            scanned_bytes=(answer.get("statistics") or {}).get("bytesScanned"),
        )
        for row in answer.get("results", []):
            cells = {cell["field"]: cell["value"] for cell in row}
            try:
                line = json.loads(cells.get("@message", ""))
            except ValueError:
                continue  # Lambda's own START/END/REPORT lines are not ours
            # Insights already filtered; checking again keeps the bundle exact whatever the
            # engine (and moto's Insights, used locally and in tests, does not filter).
            if isinstance(line, dict) and _matches(line, wanted):
                findings.lines.append({k: line[k] for k in KEPT if line.get(k) is not None})
        return findings
