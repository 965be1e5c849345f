"""``roam-emp status`` (GET /admin/status): is the connection with Plugsurfing up, are the
Locations fresh, is anything waiting in a queue or a dead-letter queue, which alarms are open.

What an operator checks first (docs/runbook.md); read-only, from the store and AWS itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .. import topology
from ..config import Settings
from ..ocpi.timestamps import utcnow
from ..store import aws
from ..store.pull_state import PullMode, PullStateStore, RunStatus
from ..store.registration import ConnectionStore

# SQS's approximate counts (eventually consistent, good for a dashboard, never for a decision).
DEPTH_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
# describe_alarms answers at most 100 per page; a page more would mean a misconfigured prefix.
MAX_ALARMS = 100


class Registration(BaseModel):
    status: str  # ConnectionStatus
    versions_url: str | None
    registered_at: str | None
    hub_roles: list[str]


class LastPull(BaseModel):
    completed_at: str | None = Field(description="RFC 3339, UTC; null: never")
    age_s: float | None
    locations: int | None = Field(description="locations the run received")


class LocationPulls(BaseModel):
    last_full: LastPull
    last_delta: LastPull
    cache_age_s: float | None = Field(description="since the start of the last completed pull")
    running: dict[str, Any] | None  # the PullRun in progress
    last_failed: dict[str, Any] | None  # the most recent FAILED run among the last ten


class QueueDepth(BaseModel):
    visible: int = Field(ge=0, description="waiting (ApproximateNumberOfMessages)")
    in_flight: int = Field(ge=0, description="being processed (ApproximateNumberOfMessagesNotVisible)")


class OpenAlarm(BaseModel):
    name: str
    since: str | None
    reason: str | None
    description: str | None  # links its runbook section (docs/runbook.md)


class Status(BaseModel):
    registration: Registration
    location_pulls: LocationPulls
    # token_push, token_push_dlq, outbox_failures (itself where failures land)
    queues: dict[str, QueueDepth]
    alarms: list[OpenAlarm] | None = Field(description="in state ALARM; null: no alarm prefix configured")


@dataclass
class StatusReport:
    connections: ConnectionStore
    pulls: PullStateStore
    queue_urls: dict[str, str]  # name shown -> queue URL
    alarm_name_prefix: str | None
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def from_settings(cls, config: Settings) -> StatusReport:
        queues: dict[str, str] = {}
        for queue in topology.QUEUES:
            for name, env_var in (
                (queue.key, queue.env_var),
                (f"{queue.key}_dlq", queue.dead_letter_env_var if queue.dead_letter else ""),
            ):
                url = os.environ.get(env_var) if env_var else None
                if url:
                    queues[name] = url
        return cls(
            connections=ConnectionStore(config.state_table),
            pulls=PullStateStore(config.state_table),
            queue_urls=queues,
            alarm_name_prefix=os.environ.get(topology.ALARM_NAME_PREFIX_ENV) or None,
        )

    def collect(self) -> dict[str, Any]:
        connection = self.connections.get()
        status = Status(
            registration=Registration(
                status=connection.status.value,
                versions_url=connection.versions_url,
                registered_at=_iso(connection.registered_at),
                hub_roles=[f"{r.role} {r.country_code}/{r.party_id}" for r in connection.hub_roles],
            ),
            location_pulls=LocationPulls.model_validate(self._pulls()),
            queues={k: QueueDepth.model_validate(v) for k, v in self._queues().items()},
            alarms=None
            if (alarms := self._alarms()) is None
            else [OpenAlarm.model_validate(a) for a in alarms],
        )
        return status.model_dump(mode="json")

    def _pulls(self) -> dict[str, Any]:
        sync = self.pulls.sync()
        run = self.pulls.run()
        completed = [r for r in sync.completed_runs if r.get("status") == RunStatus.COMPLETED.value]
        last_delta = next((r for r in completed if r.get("mode") == PullMode.DELTA.value), None)
        last_full = next((r for r in completed if r.get("mode") == PullMode.FULL.value), None)
        full_at = sync.last_full_completed_at
        delta_at = _parse(last_delta.get("finished_at")) if last_delta else None
        return {
            "last_full": {
                "completed_at": _iso(full_at),
                "age_s": self._age(full_at),
                "locations": last_full.get("locations") if last_full else None,
            },
            "last_delta": {
                "completed_at": _iso(delta_at),
                "age_s": self._age(delta_at),
                "locations": last_delta.get("locations") if last_delta else None,
            },
            "cache_age_s": self._age(sync.synced_since),
            "running": run.model_dump(mode="json") if run and run.status is RunStatus.RUNNING else None,
            "last_failed": next(
                (r for r in sync.completed_runs if r.get("status") == RunStatus.FAILED.value), None
            ),
        }

    def _queues(self) -> dict[str, dict[str, int]]:
        sqs = aws.client("sqs")
        depths: dict[str, dict[str, int]] = {}
        for name, url in self.queue_urls.items():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTH_ATTRIBUTES))[
                "Attributes"
            ]
            depths[name] = {
                "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            }
        return depths

    def _alarms(self) -> list[dict[str, Any]] | None:
        """The stack's alarms in state ALARM (None: no prefix configured, nothing to ask)."""
        if not self.alarm_name_prefix:
            return None
        answer = aws.client("cloudwatch").describe_alarms(
            AlarmNamePrefix=self.alarm_name_prefix, StateValue="ALARM", MaxRecords=MAX_ALARMS
        )
        return [
            {
                "name": alarm["AlarmName"],
                "since": _iso(alarm.get("StateUpdatedTimestamp")),
                "reason": alarm.get("StateReason"),
                "description": alarm.get("AlarmDescription"),
            }
            for alarm in [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]
            # Filtered here too: moto (local mode) applies only one of prefix and state.
            if alarm.get("StateValue") == "ALARM"
        ]

    def _age(self, at: datetime | None) -> float | None:
        return round((self.clock() - at).total_seconds(), 1) if at else None


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def render_text(status: dict[str, Any]) -> str:
    """The CLI's reading of the status (``--json`` prints the document itself)."""
    registration = status["registration"]
    pulls = status["location_pulls"]
    lines = [
        f"registration    {registration['status']}"
        + (f" with {registration['versions_url']}" if registration.get("versions_url") else "")
        + (f" since {registration['registered_at']}" if registration.get("registered_at") else ""),
    ]
    for label, key in (("last full pull", "last_full"), ("last delta pull", "last_delta")):
        pull = pulls[key]
        lines.append(
            f"{label:<16}"
            + (
                f"{pull['completed_at']} ({_ago(pull['age_s'])} ago, {pull['locations']} locations)"
                if pull["completed_at"]
                else "never"
            )
        )
    if pulls.get("running"):
        lines.append(f"{'pull running':<16}{pulls['running']['mode']} since {pulls['running']['started_at']}")
    lines.append("queues          " + ("" if status["queues"] else "none configured"))
    for name, depth in status["queues"].items():
        flag = "  <- needs attention" if name.endswith("_dlq") or name == "outbox_failures" else ""
        flag = flag if depth["visible"] + depth["in_flight"] else ""
        lines.append(f"  {name:<20}{depth['visible']:>6} waiting {depth['in_flight']:>6} in flight{flag}")
    alarms = status["alarms"]
    if alarms is None:
        lines.append("open alarms     (no alarm prefix configured)")
    else:
        lines.append(f"open alarms     {len(alarms) or 'none'}")
        lines.extend(f"  {a['name']} since {a['since']}: {a['reason']}" for a in alarms)
    return "\n".join(lines)


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
