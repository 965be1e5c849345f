"""Every metric name is a custom metric, billed for each hour it receives data (issue 11,
docs/cost.md): what a healthy request says every time is left to Lambda's free metrics and the
log line; what is news is published."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roam_emp.handlers import ocpi_sessions

from .test_location_edges import RecordedMetrics
from .test_logging import Collected, invoke, logs, sample

__all__ = ["logs"]  # the fixture (credentials and a registered connection on moto)


def test_an_applied_session_update_publishes_no_metric_an_ignored_one_does(
    logs: Collected, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = RecordedMetrics()
    monkeypatch.setattr(ocpi_sessions, "metrics", recorded)
    event = sample("OcpiSessions", "put_ocpi_221_sessions_country_code_party_id_session_id.json")
    assert invoke("OcpiSessions", event)["statusCode"] == 200
    # One OcpiSessions invocation per update: Lambda's Invocations counts them (the dashboard).
    assert recorded.metric_set == {}
    body: dict[str, Any] = json.loads(event["body"])
    older = {**event, "body": json.dumps({**body, "last_updated": "2001-01-01T00:00:00Z"})}
    assert invoke("OcpiSessions", older)["statusCode"] == 200
    assert recorded.metric_set == {"SessionUpdatesIgnored": {"Value": [1]}}
