"""The support bundle's log search (Logs Insights over our functions' log groups), on moto."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from roam_emp.domain.support import describe_call
from roam_emp.ocpi.timestamps import utcnow
from roam_emp.store import aws
from roam_emp.store.logs import LogSearch, insights_query

GROUPS = ("/aws/lambda/t-OcpiSessions", "/aws/lambda/t-TokenPush")
# Plugsurfing's PUT of session S1 to us, as our access line records it.
SESSION_PUT = {
    "message": "ocpi request",
    "timestamp": "2026-11-24 10:00:00,000+0000",
    "request_method": "PUT",
    "request_path": "/ocpi/2.2.1/sessions/DE/8PS/S1",
    "http_status": 200,
    "status_code": 1000,
    "x_request_id": "r1",
    "x_correlation_id": "c1",
    "session_id": "S1",
}


def _put(group: str, *lines: object) -> None:
    now = int(utcnow().timestamp() * 1000)
    aws.client("logs").put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now + i, "message": line if isinstance(line, str) else json.dumps(line)}
            for i, line in enumerate(lines)
        ],
    )


@pytest.fixture
def groups(aws_mock: dict[str, str]) -> tuple[str, ...]:
    logs = aws.client("logs")
    for group in GROUPS:
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    _put(
        GROUPS[0],
        "START RequestId: 1 Version: $LATEST",  # Lambda's own lines are not JSON
        {**SESSION_PUT, "function_name": "t-OcpiSessions", "some_internal_key": "not for the ticket"},
        {"message": "ocpi request", "session_id": "S2", "request_path": "/ocpi/2.2.1/sessions/DE/8PS/S2"},
    )
    _put(
        GROUPS[1],
        {
            "message": "hub call refused",
            "method": "PUT",
            "url": "https://hub/tokens/NL/EMP/T1",
            "http_status": 400,
            "status_code": 2001,
            "status_message": "bad token",
            "outbound_x_request_id": "o1",
            "outbound_x_correlation_id": "oc1",
            "token_uid": "T1",
        },
    )
    return GROUPS


def test_finds_the_lines_about_one_session_across_log_groups(groups: tuple[str, ...]) -> None:
    now = utcnow()
    found = LogSearch(groups).find({"session_id": "S1"}, now - timedelta(hours=1), now)
    assert found.status == "Complete" and found.query_id
    assert [line["request_path"] for line in found.lines] == ["/ocpi/2.2.1/sessions/DE/8PS/S1"]
    line = found.lines[0]
    assert (line["http_status"], line["status_code"], line["x_request_id"]) == (200, 1000, "r1")
    assert "some_internal_key" not in line  # only what a ticket needs
    tokens = LogSearch(groups).find({"token_uid": "T1"}, now - timedelta(hours=1), now)
    assert [line["url"] for line in tokens.lines] == ["https://hub/tokens/NL/EMP/T1"]


def test_window_excludes_older_lines(groups: tuple[str, ...]) -> None:
    later = utcnow() + timedelta(hours=2)
    assert LogSearch(groups).find({"session_id": "S1"}, later, later + timedelta(hours=1)).lines == []


def test_query_quotes_operator_input_and_refuses_nothing_to_search() -> None:
    query = insights_query({"session_id": 'A"B\\C'}, 50)
    assert 'filter session_id = "A\\"B\\\\C"' in query
    assert query.endswith("| sort @timestamp desc | limit 50")
    with pytest.raises(ValueError, match="nothing to search for"):
        LogSearch(GROUPS).find({"evse_uid": "E1"}, utcnow(), utcnow())


def test_without_log_groups_the_search_says_so(aws_mock: dict[str, str]) -> None:
    found = LogSearch(()).find({"cdr_id": "C1"}, utcnow(), utcnow())
    assert found.status == "NotConfigured" and found.lines == []


def test_calls_read_as_a_ticket_wants_them() -> None:
    assert describe_call({**SESSION_PUT, "timestamp": "t1"}) == (
        "t1 PUT /ocpi/2.2.1/sessions/DE/8PS/S1 to us -> HTTP 200, OCPI 1000 "
        "[X-Request-ID r1, X-Correlation-ID c1]"
    )
    outbound = {
        "timestamp": "t2",
        "method": "PUT",
        "url": "https://hub/tokens/T1",
        "http_status": 400,
        "status_code": 2001,
        "status_message": "bad token",
        "outbound_x_request_id": "o1",
        "outbound_x_correlation_id": "oc1",
    }
    assert describe_call(outbound) == (
        "t2 we called PUT https://hub/tokens/T1 -> HTTP 400, OCPI 2001, bad token "
        "[X-Request-ID o1, X-Correlation-ID oc1]"
    )
