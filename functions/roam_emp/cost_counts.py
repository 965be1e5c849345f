"""What the cost model (cost_model.py) counts, as data apart from its rules:

- AWS calls per operation: a checked-in copy of what `python -m bench calls` counts on moto
  (bench/calls.py); tests/test_cost_model.py recounts and compares, so the two cannot drift apart.
- The custom metrics and alarms the stack publishes (tests/test_cost_model.py and
  tests/test_infra.py hold them to the code and the template).
"""

from __future__ import annotations

from typing import Any

# AWS calls per operation, counted on moto by `python -m bench calls` (bench/calls.py): the
# request's own calls and the OutboxRelay's for the stream records it produced; DynamoDB units
# estimated from the request bodies (bench/calls.py explains how). Copied from
# bench/results/latest.json ("calls"."per_operation"); tests/test_cost_model.py recounts.
CALLS_REPEAT = 3  # the bench's repeats behind this table (BENCH_CALLS_REPEAT)
# Operations whose stream records the relay announces together, a relay invocation's worth in one
# event (LocationStatusesChanged): their relay events are given at relay_location_records_per_invocation
# records per invocation, not as the bench's few records per poll count them.
AGGREGATED_RELAY = frozenset({"location_delta_pull_changed_location"})
CALLS_PER_OPERATION: dict[str, dict[str, Any]] = {
    "location_full_pull_page_new": {
        "request": {
            # the stored hashes: the location item and the status item of each location
            "dynamodb:BatchGetItem": 5.5,
            "dynamodb:BatchWriteItem": 10.5,
            "dynamodb:DeleteItem": 0.5,
            "dynamodb:GetItem": 2.5,
            "dynamodb:PutItem": 1.5,
            "dynamodb:Query": 0.5,
            "dynamodb:Scan": 0.5,
            "dynamodb:TransactWriteItems": 2.0,
            "dynamodb:UpdateItem": 2.0,
            "secretsmanager:GetSecretValue": 0.5,
            "dynamodb_write_units": 959.5,
            "dynamodb_read_units": 265.25,
            "events_entries": 0.0,
        },
        "relay": {
            "events:PutEvents": 26.0,
            "dynamodb_write_units": 0.0,
            "dynamodb_read_units": 0.0,
            "events_entries": 256.0,
        },
        "stream_records": 262.0,
    },
    "location_full_pull_page_unchanged": {
        "request": {
            "dynamodb:BatchGetItem": 5.0,
            "dynamodb:DeleteItem": 0.5,
            "dynamodb:GetItem": 2.5,
            "dynamodb:PutItem": 1.5,
            "dynamodb:Query": 0.5,
            "dynamodb:Scan": 0.5,
            "dynamodb:TransactWriteItems": 2.0,
            "dynamodb:UpdateItem": 2.0,
            "dynamodb_write_units": 24.0,
            "dynamodb_read_units": 253.25,
            "events_entries": 0.0,
        },
        "relay": {"dynamodb_write_units": 0.0, "dynamodb_read_units": 0.0, "events_entries": 0.0},
        "stream_records": 0.0,
    },
    "location_delta_pull_no_change": {
        "request": {
            "dynamodb:DeleteItem": 1.0,
            "dynamodb:GetItem": 5.0,
            "dynamodb:PutItem": 3.0,
            "dynamodb:TransactWriteItems": 3.0,
            "dynamodb:UpdateItem": 2.0,
            "dynamodb_write_units": 26.0,
            "dynamodb_read_units": 5.0,
            "events_entries": 0.0,
        },
        "relay": {"dynamodb_write_units": 0.0, "dynamodb_read_units": 0.0, "events_entries": 0.0},
        "stream_records": 0.0,
    },
    "location_delta_pull_changed_location": {
        "request": {
            "dynamodb:BatchGetItem": 0.07,
            # a status-only change: the location's small status item, 1 WRU (store/locations.py)
            "dynamodb:PutItem": 1.0,
            "dynamodb_read_units": 1.92,
            "dynamodb_write_units": 1.0,
        },
        # The status item's record: one entry of a LocationStatusesChanged event that carries the
        # batch's status changes (domain/outbox.py), one 64 KB chunk and one PutEvents call per
        # relay invocation of relay_location_records_per_invocation (50) records; the bench, whose
        # poller hands over a delta pull's few changes, counts more (AGGREGATED_RELAY).
        "relay": {"events:PutEvents": 0.02, "events_entries": 0.02},
        "stream_records": 1.0,
    },
    "token_push": {
        "request": {
            "dynamodb:GetItem": 3.0,
            "dynamodb:Query": 1.0,
            "dynamodb:UpdateItem": 4.0,
            "sqs:DeleteMessageBatch": 1.0,
            "sqs:SendMessage": 1.0,
            "dynamodb_write_units": 6.0,
            "dynamodb_read_units": 3.5,
            "events_entries": 0.0,
        },
        "relay": {
            "events:PutEvents": 2.0,
            "dynamodb_write_units": 0.0,
            "dynamodb_read_units": 0.0,
            "events_entries": 2.0,
        },
        "stream_records": 3.0,
    },
    "authorize": {
        "request": {
            "dynamodb:GetItem": 2.0,
            "dynamodb:PutItem": 1.0,
            "dynamodb_write_units": 2.0,
            "dynamodb_read_units": 1.0,
            "events_entries": 0.0,
        },
        "relay": {
            "events:PutEvents": 1.0,
            "dynamodb_write_units": 0.0,
            "dynamodb_read_units": 0.0,
            "events_entries": 1.0,
        },
        "stream_records": 1.0,
    },
    "session_put": {
        "request": {
            "dynamodb:PutItem": 1.0,
            "dynamodb_write_units": 3.0,
            "dynamodb_read_units": 0.0,
            "events_entries": 0.0,
        },
        "relay": {
            "dynamodb:GetItem": 1.0,
            "dynamodb:Query": 1.0,
            "events:PutEvents": 1.0,
            "dynamodb_write_units": 0.0,
            "dynamodb_read_units": 1.5,
            "events_entries": 1.0,
        },
        "stream_records": 1.0,
    },
    "session_patch": {
        "request": {
            "dynamodb:GetItem": 1.0,
            "dynamodb:PutItem": 1.0,
            "dynamodb_write_units": 3.0,
            "dynamodb_read_units": 1.0,
            "events_entries": 0.0,
        },
        "relay": {
            "dynamodb:GetItem": 1.0,
            "dynamodb:Query": 1.0,
            "events:PutEvents": 1.0,
            "dynamodb_write_units": 0.0,
            "dynamodb_read_units": 1.5,
            "events_entries": 1.0,
        },
        "stream_records": 1.0,
    },
    "cdr_acknowledgement": {
        "request": {
            "dynamodb:PutItem": 1.0,
            "s3:PutObject": 1.0,
            "dynamodb_write_units": 1.0,
            "dynamodb_read_units": 0.0,
            "events_entries": 0.0,
        },
        "relay": {
            "dynamodb:GetItem": 3.0,
            "dynamodb:Query": 1.0,
            "dynamodb:UpdateItem": 1.0,
            "events:PutEvents": 1.0,
            "dynamodb_write_units": 4.0,
            "dynamodb_read_units": 2.0,
            "events_entries": 1.0,
        },
        "stream_records": 2.0,
    },
}

# Powertools metrics (namespace RoamEmp, dimension service) a healthy month publishes in (nearly)
# every hour: each a custom metric, billed by the hours it receives data. Metrics published only
# when something goes wrong or happens now and then (OCCASIONAL_METRICS, the error paths:
# CdrStoreFailures, Hub429, ...) cost a few hours a month and are left out.
STEADY_METRICS: tuple[str, ...] = (
    "Cdr_stored",
    "Cdr_duplicate",
    "SessionUpdatesIgnored",
    "Authorize_ALLOWED",
    "Authorize_NOT_ALLOWED",
    "Authorize_BLOCKED",
    "TokenPush_pushed",
    "HubResponses_2xx",
    "HubResponses_4xx",
    "LocationsCreated",
    "LocationsUpdated",
    "TariffChanged",
    "LocationCacheAgeSeconds",
    "LocationFullPullAgeSeconds",
    "CdrCostDiscrepancy",
    "OcpiDeviations",  # one metric for every kind (telemetry.py), not one per kind
)
# Published only in the hours they have something to say (docs/cost.md, "Custom metrics").
OCCASIONAL_METRICS: dict[str, str] = {
    "LocationsRemoved": "only a non-zero count is published: removals come with the nightly full pull",
    "LocationsRejected": "only a non-zero count is published: a location we cannot store",
    "RateLimiterWaitSeconds": "only when a minute's budget to Plugsurfing is spent (bulk token loads)",
    "CommandTimeouts": "only when a remote command got no CommandResult in time",
    "LocationPull_paused": "every status but completed (LocationCacheAgeSeconds says that)",
}
# Cut: what a free AWS metric, another metric or the log line says already (docs/cost.md).
CUT_METRICS: dict[str, str] = {
    "LocationPullSeconds": "Lambda's Duration",
    "LocationsUnchanged": "the pull's log line",
    "LocationPull_completed": "LocationCacheAgeSeconds (alarmed) and Lambda's Invocations",
    "LocationPullPages": "the pull's log line and GET /admin/locations/pull",
    # Not the same count: Invocations also counts GETs, 401s and refused bodies (an upper bound
    # of the applied updates; the access log line has each request's status_code).
    "SessionUpdates": "bounded by the OcpiSessions function's Invocations (on the dashboard)",
}
# API Gateway detailed (per method) metrics: Count, 4XXError, 5XXError, Latency, IntegrationLatency,
# for every method that has traffic (a metric is billed by the hours it receives data: the
# credentials, admin and GET-by-id routes are called now and then, and left out).
DETAILED_METRICS_PER_METHOD = 5
BUSY_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/ocpi/versions"),
    ("GET", "/ocpi/2.2.1"),
    ("POST", "/ocpi/2.2.1/tokens/{token_uid}/authorize"),
    ("GET", "/ocpi/2.2.1/tokens"),
    ("PUT", "/ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}"),
    ("PATCH", "/ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}"),
    ("POST", "/ocpi/2.2.1/cdrs"),
    ("POST", "/ocpi/2.2.1/commands/{command}/{command_id}"),
    ("POST", "/admin/tokens"),
)
# Alarms that do not depend on the number of functions (infra/observability.py): two dead-letter
# queues, Api5xx, LocationCacheStale, LocationFullPullStale, CdrStoreFailures, Hub429, Hub5xx,
# AuthorizeSlow, CdrRejected, OutboxLag, CreditCdr.
FIXED_ALARMS = 12
