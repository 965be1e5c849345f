"""GET /admin/status and `roam-emp status` in local mode: registration, the last full and delta
pulls with their ages, queue and dead-letter depths, the stack's open alarms (issue 12)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from roam_emp import cli, topology
from roam_emp.polling import wait_for
from roam_emp.store import aws
from tests.helpers import register

Local = tuple[Any, Any]


def status(rt: Any) -> dict[str, Any]:
    answer = rt.admin("GET", "/admin/status")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


def completed_pulls(rt: Any) -> int:
    return len(rt.admin("GET", "/admin/locations/pull").json()["data"]["sync"]["completed_runs"])


def pull(rt: Any, mode: str) -> None:
    before = completed_pulls(rt)
    assert rt.admin("POST", "/admin/locations/pull", {"mode": mode}).status_code == 202
    wait_for(lambda: completed_pulls(rt) > before, seconds=120, interval=0.3)


def alarm(name: str, state: str) -> None:
    cloudwatch = aws.platform_client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="TokenPushFailed",
        Namespace="RoamEmp",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmDescription=f"{name}. Runbook: docs/runbook.md",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test: {state}")


def test_status_before_anything_happened(local: Local) -> None:
    rt, _sim = local
    before = status(rt)
    assert before["registration"]["status"] == "UNREGISTERED"
    assert before["location_pulls"]["last_full"] == {"completed_at": None, "age_s": None, "locations": None}
    assert before["location_pulls"]["last_delta"]["completed_at"] is None
    # Every queue of the topology with its dead-letter queue; the outbox failures queue is itself one.
    assert set(before["queues"]) == {"token_push", "token_push_dlq", "outbox_failures"}
    assert all(d == {"visible": 0, "in_flight": 0} for d in before["queues"].values())
    assert before["alarms"] == []


def test_status_tells_pulls_queues_and_open_alarms(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    rt, sim = local
    registered = register(rt, sim)
    assert registered.status_code == 200, registered.text
    pull(rt, "full")
    pull(rt, "delta")
    # What waits in a dead-letter queue and the failures queue is what an operator must see.
    sqs = aws.platform_client("sqs")
    sqs.send_message(
        QueueUrl=rt.env[topology.TOKEN_PUSH_QUEUE.dead_letter_env_var],
        MessageBody="{}",
        MessageGroupId="g",
        MessageDeduplicationId="d1",
    )
    for n in range(2):
        sqs.send_message(QueueUrl=rt.env[topology.OUTBOX_FAILURES_QUEUE.env_var], MessageBody=f"{n}")
    prefix = rt.env[topology.ALARM_NAME_PREFIX_ENV]
    alarm(f"{prefix}TokenPushDeadLetters-ABC", "ALARM")
    alarm(f"{prefix}LocationCacheStale-DEF", "OK")
    alarm("another-stack-Alarm-XYZ", "ALARM")  # not ours: never listed

    now = datetime.now(UTC)
    seen = status(rt)
    assert seen["registration"]["status"] == "REGISTERED"
    assert seen["registration"]["hub_roles"] == ["CPO DE/8PS"]
    pulls = seen["location_pulls"]
    for key in ("last_full", "last_delta"):
        completed = datetime.fromisoformat(pulls[key]["completed_at"])
        assert completed <= now and 0 <= pulls[key]["age_s"] < 300
        assert pulls[key]["locations"] is not None
    assert datetime.fromisoformat(pulls["last_full"]["completed_at"]) < datetime.fromisoformat(
        pulls["last_delta"]["completed_at"]
    )
    assert seen["queues"]["token_push_dlq"]["visible"] == 1
    assert seen["queues"]["outbox_failures"]["visible"] == 2
    assert [a["name"] for a in seen["alarms"]] == [f"{prefix}TokenPushDeadLetters-ABC"]
    assert seen["alarms"][0]["reason"] == "test: ALARM"

    # The CLI reads the same route: a readable page, or the document itself with --json.
    assert cli.main(["status", "--api", rt.url]) == 0
    page = capsys.readouterr().out
    assert "registration    REGISTERED" in page
    assert "last delta pull " in page and "never" not in page
    assert "token_push_dlq" in page and "needs attention" in page
    assert f"{prefix}TokenPushDeadLetters-ABC" in page and "another-stack" not in page
    assert cli.main(["status", "--api", rt.url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queues"]["outbox_failures"]["visible"] == 2
