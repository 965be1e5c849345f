"""What roam-emp costs an EMP per month on AWS (issue 11): `roam-emp cost-estimate`.

The model multiplies a month's workload, derived from three numbers (locations in Plugsurfing's
network, the EMP's tokens, its sessions per month) and the assumptions below, by the AWS calls each
operation makes, as counted on moto by `python -m bench calls` (bench/calls.py) and copied in
``cost_counts.CALLS_PER_OPERATION`` (tests/test_cost_model.py recounts and compares), and by AWS's public list
prices (``Prices``). Fixed costs (alarms, metrics, dashboard, secret, key) come from the stack's
shape (topology.py and the cdk.json switches: ``StackShape``). docs/cost.md explains every line.

No free tier is deducted (an EMP's account may use it for other workloads): a real bill is lower
by up to the always-free tier (1M Lambda requests and 400,000 GB-s, 10 metrics, 10 alarms, 3
dashboards, 5 GB of logs, 100,000 X-Ray traces, 1M SQS requests, 25 GB of DynamoDB storage).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from . import topology

# What the model counts: AWS calls per operation (the bench's checked-in table), the metrics and
# alarms the stack publishes (cost_counts.py).
from .cost_counts import AGGREGATED_RELAY as AGGREGATED_RELAY
from .cost_counts import BUSY_ROUTES as BUSY_ROUTES
from .cost_counts import CALLS_PER_OPERATION as CALLS_PER_OPERATION
from .cost_counts import CALLS_REPEAT as CALLS_REPEAT
from .cost_counts import CUT_METRICS as CUT_METRICS
from .cost_counts import DETAILED_METRICS_PER_METHOD as DETAILED_METRICS_PER_METHOD
from .cost_counts import FIXED_ALARMS as FIXED_ALARMS
from .cost_counts import OCCASIONAL_METRICS as OCCASIONAL_METRICS
from .cost_counts import STEADY_METRICS as STEADY_METRICS

PRICES_REGION = "eu-central-1"
PRICES_AS_OF = "2025-01 (AWS public list prices, on-demand, after DynamoDB's November 2024 cut)"


@dataclass(frozen=True)
class Prices:
    """US$ list prices, eu-central-1 (Frankfurt), as of ``PRICES_AS_OF``; first tier only."""

    lambda_requests_per_million: float = 0.20
    lambda_arm_gb_second: float = 0.0000133334
    dynamodb_write_units_per_million: float = 0.7625  # on-demand write request units
    dynamodb_read_units_per_million: float = 0.1525  # on-demand read request units
    dynamodb_storage_gb_month: float = 0.306
    dynamodb_pitr_gb_month: float = 0.2448  # continuous backups (point-in-time recovery)
    s3_put_per_thousand: float = 0.0054
    s3_storage_gb_month: float = 0.0245
    rest_api_per_million: float = 3.70  # API Gateway REST API, first 333M requests
    http_api_per_million: float = 1.20  # API Gateway HTTP API, first 300M requests (512 KB units)
    sqs_fifo_per_million: float = 0.50
    eventbridge_events_per_million: float = 1.00  # custom events, per 64 KB entry
    cloudwatch_metric_month: float = 0.30  # custom metric, first 10,000
    cloudwatch_alarm_metric_month: float = 0.10  # standard resolution, per metric in the alarm
    cloudwatch_dashboard_month: float = 3.00
    logs_ingested_gb: float = 0.63
    logs_stored_gb_month: float = 0.0324
    xray_traces_per_million: float = 5.00  # recorded; retrieval ($0.50/M) left out
    secret_month: float = 0.40
    secrets_api_per_10k: float = 0.05
    kms_key_month: float = 1.00  # the alarm topic's customer-managed key


@dataclass(frozen=True)
class Assumptions:
    """How a month's workload follows from the three numbers (docs/cost.md, "Assumptions")."""

    days: int = 30
    delta_pull_minutes: int = 2  # cdk.json location_delta_pull_minutes
    full_pulls_per_day: float = 1.0  # the nightly full pull (FAQ: once per 24 h)
    page_size: int = 250  # Plugsurfing's Location page size
    # How many times a day a location appears in a delta pull (its last_updated moved: an EVSE
    # status or a tariff changed), after the delta pull coalesced changes within its interval.
    location_changes_per_day: float = 1.0
    authorizations_per_session: float = 1.0  # real-time authorization before each session
    session_puts_per_session: float = 1.0
    session_patches_per_session: float = 6.0  # status and charging-period updates
    cdrs_per_session: float = 1.0
    token_pushes_per_token: float = 0.1  # a month's changes (new, blocked, updated tokens)
    # Lambda durations (ms) per operation, and the OutboxRelay's records per invocation.
    duration_ms: dict[str, float] = field(
        default_factory=lambda: {
            "location_full_pull_page_new": 1500.0,
            "location_full_pull_page_unchanged": 600.0,
            "location_delta_pull_no_change": 400.0,
            "location_delta_pull_changed_location": 10.0,
            "token_push": 250.0,
            "authorize": 60.0,
            "session_put": 60.0,
            "session_patch": 60.0,
            "cdr_acknowledgement": 100.0,
            "relay_record": 40.0,  # one record of an API operation, alone in its invocation
            "relay_location_record": 5.0,  # one of a pull's records, in batches of up to 100
            # A status item's record: no event of its own, one PutEvents call per batch of ~50
            # (~30 ms) and ~5 ms of translation for the 50 (measured: docs/cost.md).
            "relay_location_status_record": 1.0,
            "command_timeout_sweep": 50.0,
        }
    )
    # The OutboxRelay's records per invocation: an API operation's records arrive one or two at a
    # time; a pull writes its changes in bursts, read from the stream in batches of up to 100.
    relay_records_per_invocation: float = 1.5
    relay_location_records_per_invocation: float = 50.0
    log_bytes_per_invocation: int = 1500  # START/END/REPORT, one access line, one metrics line
    access_log_bytes_per_request: int = 400  # API Gateway access log (JSON, standard fields)
    log_compression: float = 0.15  # stored bytes per ingested byte
    cdr_bytes: int = 4000  # one archived CDR body
    location_item_bytes: int = 2000
    # A session item: ~3 KB of JSON (a long session's charging periods), stored zlib-compressed
    # with its key and index attributes (store/sessions.py): 0.8 KB measured, rounded up
    # (tests/test_cost_model.py); 3 KB as a JSON string (cdk.json compress_session_documents off).
    session_item_bytes: int = 1000
    session_json_item_bytes: int = 3000
    cdr_item_bytes: int = 4000  # a CDR item: its compressed document and enrichment facts
    # How long a warm container keeps the credentials secret (cdk.json secret_cache_seconds):
    # one GetSecretValue per function per this many seconds, at most one per invocation.
    secret_cache_seconds: int = 300


@dataclass(frozen=True)
class StackShape:
    """The stack's fixed parts, from the cdk.json switches (infra/config.py)."""

    api_detailed_metrics: bool = False
    xray_tracing: bool = False
    consolidated_alarms: bool = True
    compress_session_documents: bool = True
    http_api: bool = False  # what the REST API would cost as an HTTP API (docs/cost.md)


@dataclass(frozen=True)
class Workload:
    locations: int
    tokens: int
    sessions: int


# Which Lambda runs each operation, and whether it arrives through API Gateway.
_FUNCTION = {
    "location_full_pull_page_new": ("LocationPull", False),
    "location_full_pull_page_unchanged": ("LocationPull", False),
    "location_delta_pull_no_change": ("LocationPull", False),
    "location_delta_pull_changed_location": ("LocationPull", False),
    "token_push": ("TokenPush", False),
    "authorize": ("OcpiAuthorize", True),
    "session_put": ("OcpiSessions", True),
    "session_patch": ("OcpiSessions", True),
    "cdr_acknowledgement": ("OcpiCdrs", True),
    "command_timeout_sweep": ("CommandTimeouts", False),
}


def alarm_count(shape: StackShape) -> int:
    """CloudWatch alarms the stack creates (tests/test_infra.py checks it against the template)."""
    per_function = 2 if shape.consolidated_alarms else 2 * len(topology.FUNCTIONS)
    return FIXED_ALARMS + per_function


def custom_metric_count(shape: StackShape) -> int:
    detailed = DETAILED_METRICS_PER_METHOD * len(BUSY_ROUTES) if shape.api_detailed_metrics else 0
    return len(STEADY_METRICS) + detailed


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


@dataclass
class Estimate:
    workload: Workload
    shape: StackShape
    assumptions: Assumptions
    lines: list[Line]

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.usd
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def top(self, n: int = 8) -> list[Line]:
        return sorted(self.lines, key=lambda line: -line.usd)[:n]

    def as_json(self) -> dict[str, Any]:
        return {
            "workload": asdict(self.workload),
            "stack": asdict(self.shape),
            "location_changes_per_day": self.assumptions.location_changes_per_day,
            "prices": {"region": PRICES_REGION, "as_of": PRICES_AS_OF},
            "monthly_usd": round(self.total, 2),
            "by_service": {k: round(v, 2) for k, v in self.by_service().items()},
            "lines": [asdict(line) | {"usd": round(line.usd, 2)} for line in self.lines],
        }


def operations_per_month(workload: Workload, a: Assumptions) -> dict[str, float]:
    """How often each counted operation runs in a month."""
    pages = math.ceil(workload.locations / a.page_size)
    delta_pulls = a.days * 24 * 60 / a.delta_pull_minutes
    return {
        "location_full_pull_page_unchanged": pages * a.full_pulls_per_day * a.days,
        "location_delta_pull_no_change": delta_pulls,
        "location_delta_pull_changed_location": workload.locations * a.location_changes_per_day * a.days,
        "token_push": workload.tokens * a.token_pushes_per_token,
        "authorize": workload.sessions * a.authorizations_per_session,
        "session_put": workload.sessions * a.session_puts_per_session,
        "session_patch": workload.sessions * a.session_patches_per_session,
        "cdr_acknowledgement": workload.sessions * a.cdrs_per_session,
        "command_timeout_sweep": a.days * 24 * 60,  # the commands' timer, every minute
    }


def _calls(operation: str) -> dict[str, Any]:
    if operation == "command_timeout_sweep":
        # Not in the bench (a timer with nothing due): one Query of the by_due index.
        return {
            "request": {"dynamodb:Query": 1.0, "dynamodb_read_units": 0.5},
            "relay": {},
            "stream_records": 0,
        }
    return CALLS_PER_OPERATION[operation]


@dataclass
class Usage:
    """A month's AWS usage: counted calls and units summed over the operations, Lambda work."""

    totals: dict[str, float]  # call names and units (dynamodb_write_units, events_entries, ...)
    invocations: dict[str, float]  # per function
    gb_seconds: float
    api_requests: float


def usage(workload: Workload, a: Assumptions) -> Usage:
    totals: dict[str, float] = {}
    invocations: dict[str, float] = {}
    gb_seconds = api_requests = relay_invocations = 0.0
    memory = {f.name: f.memory_mb / 1024 for f in topology.FUNCTIONS}
    for operation, count in operations_per_month(workload, a).items():
        calls = _calls(operation)
        for part in ("request", "relay"):
            for name, per in calls[part].items():
                totals[name] = totals.get(name, 0.0) + per * count
        records = calls["stream_records"] * count
        if operation.startswith("location_"):
            relay_invocations += records / a.relay_location_records_per_invocation
            per_record = (
                "relay_location_status_record" if operation in AGGREGATED_RELAY else "relay_location_record"
            )
            gb_seconds += records * a.duration_ms[per_record] / 1000 * memory["OutboxRelay"]
        else:
            relay_invocations += records / a.relay_records_per_invocation
            gb_seconds += records * a.duration_ms["relay_record"] / 1000 * memory["OutboxRelay"]
        function, through_api = _FUNCTION[operation]
        # A pull's pages and changed locations run inside one pull invocation.
        if operation not in ("location_full_pull_page_unchanged", "location_delta_pull_changed_location"):
            invocations[function] = invocations.get(function, 0.0) + count
        gb_seconds += count * a.duration_ms[operation] / 1000 * memory[function]
        if operation == "token_push":  # the admin API call that queues it
            invocations["AdminTokens"] = invocations.get("AdminTokens", 0.0) + count
            gb_seconds += count * 0.1 * memory["AdminTokens"]
            api_requests += count
        if through_api:
            api_requests += count
    invocations["LocationPull"] += a.full_pulls_per_day * a.days
    invocations["OutboxRelay"] = relay_invocations
    return Usage(totals, invocations, gb_seconds, api_requests)


def estimate(
    workload: Workload,
    shape: StackShape = StackShape(),
    assumptions: Assumptions = Assumptions(),
    prices: Prices = Prices(),
) -> Estimate:
    a, p = assumptions, prices
    lines: list[Line] = []

    def add(service: str, item: str, quantity: float, unit: str, usd: float) -> None:
        lines.append(Line(service, item, quantity, unit, usd))

    used = usage(workload, a)
    totals, invocations, gb_seconds, api_requests = (
        used.totals,
        used.invocations,
        used.gb_seconds,
        used.api_requests,
    )
    all_invocations = sum(invocations.values())

    # DynamoDB
    wru, rru = totals.get("dynamodb_write_units", 0.0), totals.get("dynamodb_read_units", 0.0)
    add("DynamoDB", "write request units", wru, "WRU", wru / 1e6 * p.dynamodb_write_units_per_million)
    add("DynamoDB", "read request units", rru, "RRU", rru / 1e6 * p.dynamodb_read_units_per_million)
    session_item = a.session_item_bytes if shape.compress_session_documents else a.session_json_item_bytes
    stored_gb = (
        workload.locations * a.location_item_bytes
        + workload.tokens * 1500
        + workload.sessions * 12 * (session_item + a.cdr_item_bytes)  # a year (no TTL)
    ) / 1e9
    add("DynamoDB", "storage", stored_gb, "GB-month", stored_gb * p.dynamodb_storage_gb_month)
    add("DynamoDB", "point-in-time recovery", stored_gb, "GB-month", stored_gb * p.dynamodb_pitr_gb_month)
    # Lambda
    add(
        "Lambda",
        "requests",
        all_invocations,
        "invocations",
        all_invocations / 1e6 * p.lambda_requests_per_million,
    )
    add("Lambda", "compute (arm64)", gb_seconds, "GB-s", gb_seconds * p.lambda_arm_gb_second)
    # API Gateway
    api_price = p.http_api_per_million if shape.http_api else p.rest_api_per_million
    add(
        "API Gateway",
        "HTTP API requests" if shape.http_api else "REST API requests",
        api_requests,
        "requests",
        api_requests / 1e6 * api_price,
    )
    # S3, SQS, EventBridge, Secrets Manager
    puts = totals.get("s3:PutObject", 0.0)
    add("S3", "PUT requests (CDR archive)", puts, "requests", puts / 1000 * p.s3_put_per_thousand)
    archive_gb = workload.sessions * a.cdrs_per_session * 12 * a.cdr_bytes / 1e9  # a year kept
    add("S3", "storage (a year of CDRs)", archive_gb, "GB-month", archive_gb * p.s3_storage_gb_month)
    sqs = totals.get("sqs:SendMessage", 0.0) * 3  # send, Lambda's receive, delete
    add("SQS", "FIFO requests", sqs, "requests", sqs / 1e6 * p.sqs_fifo_per_million)
    entries = totals.get("events_entries", 0.0)
    add(
        "EventBridge", "events published", entries, "events", entries / 1e6 * p.eventbridge_events_per_million
    )
    secret_readers = {f.name for f in topology.FUNCTIONS if f.secrets}
    refreshes = a.days * 86_400 / a.secret_cache_seconds  # one warm container per function
    secret_reads = sum(min(n, refreshes) for f, n in invocations.items() if f in secret_readers)
    add("Secrets Manager", "secret", 1, "secret-month", p.secret_month)
    add(
        "Secrets Manager",
        "GetSecretValue (cache refreshes)",
        secret_reads,
        "calls",
        secret_reads / 1e4 * p.secrets_api_per_10k,
    )
    # CloudWatch
    metrics = custom_metric_count(shape)
    add("CloudWatch", "custom metrics", metrics, "metrics", metrics * p.cloudwatch_metric_month)
    alarms = alarm_count(shape)
    add("CloudWatch", "alarms", alarms, "alarm metrics", alarms * p.cloudwatch_alarm_metric_month)
    add("CloudWatch", "dashboard", 1, "dashboard", p.cloudwatch_dashboard_month)
    logs_gb = (
        all_invocations * a.log_bytes_per_invocation + api_requests * a.access_log_bytes_per_request
    ) / 1e9
    add("CloudWatch", "logs ingested", logs_gb, "GB", logs_gb * p.logs_ingested_gb)
    add(
        "CloudWatch",
        "logs stored",
        logs_gb * a.log_compression,
        "GB-month",
        logs_gb * a.log_compression * p.logs_stored_gb_month,
    )
    # X-Ray: Lambda's own sampling (1 request per second, then 5 %) at this rate keeps nearly
    # every invocation: counted as all.
    traces = all_invocations if shape.xray_tracing else 0.0
    add("X-Ray", "traces recorded", traces, "traces", traces / 1e6 * p.xray_traces_per_million)
    add("KMS", "alarm topic key", 1, "key-month", p.kms_key_month)
    return Estimate(workload, shape, assumptions, lines)


def break_even_churn(
    workload: Workload,
    target_usd: float,
    shape: StackShape = StackShape(),
    assumptions: Assumptions = Assumptions(),
) -> float | None:
    """The ``location_changes_per_day`` at which the total reaches ``target_usd`` (the total is
    linear in it); None when even an unchanging network costs more."""
    base = estimate(workload, shape, replace(assumptions, location_changes_per_day=0.0)).total
    per_change = estimate(workload, shape, replace(assumptions, location_changes_per_day=1.0)).total - base
    if base > target_usd:
        return None
    return math.inf if per_change <= 0 else (target_usd - base) / per_change


def render(result: Estimate, top: int = 8, target_usd: float = 40.0) -> Iterator[str]:
    w = result.workload
    yield (
        f"roam-emp monthly AWS cost: {w.locations:,} locations, {w.tokens:,} tokens, "
        f"{w.sessions:,} sessions/month"
    )
    yield f"prices: {PRICES_REGION}, {PRICES_AS_OF}; no free tier deducted"
    yield f"stack: {', '.join(f'{k}={v}' for k, v in asdict(result.shape).items())}"
    yield ""
    yield f"TOTAL  US$ {result.total:8.2f} / month"
    yield ""
    yield "by service:"
    for service, usd in result.by_service().items():
        yield f"  {service:<16} {usd:8.2f}"
    yield ""
    yield f"top {top} lines:"
    for line in result.top(top):
        yield f"  {line.usd:8.2f}  {line.service}: {line.item} ({line.quantity:,.0f} {line.unit})"
    yield ""
    churn = result.assumptions.location_changes_per_day
    limit = break_even_churn(result.workload, target_usd, result.shape, result.assumptions)
    yield f"assumed churn: {churn:g} change(s) per location per day (--location-changes-per-day);"
    if limit is None:
        yield f"  even an unchanging network costs more than US$ {target_usd:.0f}"
    else:
        yield f"  the total stays under US$ {target_usd:.0f} up to {limit:.2f} changes per location per day"


def add_parser(sub: Any) -> None:
    """`roam-emp cost-estimate` (cli.py)."""
    command = sub.add_parser(
        "cost-estimate", help="monthly AWS cost for an EMP of a given size (docs/cost.md)"
    )
    command.add_argument("--locations", type=int, required=True, help="locations in Plugsurfing's network")
    command.add_argument("--tokens", type=int, required=True, help="the EMP's tokens")
    command.add_argument("--sessions", type=int, required=True, help="the EMP's sessions per month")
    command.add_argument(
        "--location-changes-per-day",
        type=float,
        default=Assumptions.location_changes_per_day,
        help="times a day a location shows up in a delta pull (default %(default)s)",
    )
    command.add_argument(
        "--api-detailed-metrics", action="store_true", help="cdk.json api_detailed_metrics on"
    )
    command.add_argument("--xray-tracing", action="store_true", help="cdk.json xray_tracing on")
    command.add_argument(
        "--per-function-alarms", action="store_true", help="cdk.json consolidated_alarms off"
    )
    command.add_argument(
        "--uncompressed-sessions",
        action="store_true",
        help="cdk.json compress_session_documents off",
    )
    command.add_argument("--http-api", action="store_true", help="price the API as an HTTP API instead")
    command.add_argument("--json", action="store_true", help="every line, as JSON")
    command.set_defaults(func=_cost_estimate)


def _cost_estimate(args: Any) -> int:
    import json

    for name in ("locations", "tokens", "sessions"):
        if getattr(args, name) < 0:
            raise SystemExit(f"--{name} must be 0 or more")
    result = estimate(
        Workload(args.locations, args.tokens, args.sessions),
        StackShape(
            api_detailed_metrics=args.api_detailed_metrics,
            xray_tracing=args.xray_tracing,
            consolidated_alarms=not args.per_function_alarms,
            compress_session_documents=not args.uncompressed_sessions,
            http_api=args.http_api,
        ),
        Assumptions(location_changes_per_day=args.location_changes_per_day),
    )
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print("\n".join(render(result)))
    return 0
