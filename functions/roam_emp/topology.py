"""One description of every AWS resource, Lambda and route, shared by the CDK stacks (infra/) and
by local mode (roam_emp.local), so the cloud and the embedded default cannot drift apart.

Pure data: no boto3, no CDK imports. The kinds of resource are in resources.py, the names of the
environment variables carrying their names in env_names.py (config.py reads them from there).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import env_names
from .resources import (
    Access,
    Auth,
    Bucket,
    Function,
    Index,
    Queue,
    Route,
    Schedule,
    Secret,
    StreamConsumer,
    Table,
)

# Re-exported: infra/, local/ and the tests name the kinds of resource through topology. (Only
# these are listed: nothing imports * from here, and mypy --strict exports what __all__ names.)
__all__ = [
    "Access",
    "Auth",
    "Bucket",
    "Function",
    "Index",
    "Queue",
    "Route",
    "Schedule",
    "Secret",
    "StreamConsumer",
    "Table",
]

STATE_TABLE = Table(key="state", env_var=env_names.STATE_TABLE)
# The Locations cache (store/locations.py): location items and, once per id, their tariffs.
LOCATIONS_TABLE = Table(
    key="locations",
    env_var=env_names.LOCATIONS_TABLE,
    indexes=(
        Index("by_party", "party_key", "location_id", include=("summary",)),
        Index("by_country", "country", "location_id", include=("summary",)),
    ),
    ttl_attribute=None,
    stream=True,
)
# Our tokens (what we push to Plugsurfing) with their push state (store/tokens.py).
TOKENS_TABLE = Table(
    key="tokens",
    env_var=env_names.TOKENS_TABLE,
    indexes=(
        Index("by_contract", "contract_key", "token_key"),
        Index("by_updated", "list_pk", "updated_key"),
    ),
    ttl_attribute=None,
    stream=True,
)
# Every real-time authorization decision, for support and analytics (store/authorizations.py).
AUTHORIZATIONS_TABLE = Table(
    key="authorizations",
    env_var=env_names.AUTHORIZATIONS_TABLE,
    indexes=(Index("by_token", "token_key", "decided_at", include=("summary",)),),
    stream=True,
)
# Sessions as pushed by Plugsurfing, PATCHes applied (store/sessions.py).
SESSIONS_TABLE = Table(
    key="sessions",
    env_var=env_names.SESSIONS_TABLE,
    ttl_attribute=None,
    # Session ids are unique across all CPOs behind Roam OCPI (FAQ): support looks them up alone;
    # a token's recent sessions serve the support bundle and the stage test's evidence.
    indexes=(
        Index("by_session_id", "session_id"),
        Index("by_token", "token_key", "last_updated", include=("session_id", "status")),
    ),
    stream=True,
)
# CDRs, their conflicts and token matches (store/cdrs.py); the raw bodies go to the archive bucket.
# A CDR's id need not be its session's id: by_session_id finds a session's CDR.
CDRS_TABLE = Table(
    key="cdrs",
    env_var=env_names.CDRS_TABLE,
    ttl_attribute=None,
    indexes=(Index("by_session_id", "session_id"),),
    stream=True,
)
# Remote commands we sent, their synchronous CommandResponse and their CommandResult. by_due is
# sparse: only commands still waiting for a CommandResult carry ``due_pk``, sorted by the fixed-width
# epoch-milliseconds ``due_key`` at which the timer (CommandTimeouts) marks them TIMEOUT.
COMMANDS_TABLE = Table(
    key="commands",
    env_var=env_names.COMMANDS_TABLE,
    indexes=(Index("by_due", "due_pk", "due_key"),),
    stream=True,
)
TABLES: tuple[Table, ...] = (
    STATE_TABLE,
    LOCATIONS_TABLE,
    TOKENS_TABLE,
    AUTHORIZATIONS_TABLE,
    SESSIONS_TABLE,
    CDRS_TABLE,
    COMMANDS_TABLE,
)


CDR_ARCHIVE = Bucket(
    key="cdr_archive",
    env_var=env_names.CDR_ARCHIVE_BUCKET,
    description="Every CDR body exactly as Plugsurfing posted it (billing evidence)",
)
BUCKETS: tuple[Bucket, ...] = (CDR_ARCHIVE,)
# Accepted CDR bodies under cdrs/, bodies we refused (400 + 2001) under rejected/ (store/cdrs.py).
ARCHIVE_PREFIXES = ("cdrs/", "rejected/")

HUB_CREDENTIALS = Secret(
    key="hub_credentials",
    env_var=env_names.HUB_CREDENTIALS_SECRET,
    description="OCPI credentials tokens exchanged with Plugsurfing (inbound and outbound)",
)
SECRETS: tuple[Secret, ...] = (HUB_CREDENTIALS,)

TOKEN_PUSH_QUEUE = Queue(
    key="token_push",
    env_var=env_names.TOKEN_PUSH_QUEUE_URL,
    fifo=True,  # message group = token uid+type: per-token order, parallel across tokens
    visibility_timeout_s=360,  # AWS: at least six times the consumer's timeout
    max_receive_count=5,
)
# Lambda's on-failure destination for the stream consumer: what it could not turn into events
# after every retry (batch metadata: shard and sequence numbers). Alarmed; docs/runbook.md.
OUTBOX_FAILURES_QUEUE = Queue(
    key="outbox_failures",
    env_var=env_names.OUTBOX_FAILURES_QUEUE_URL,
    fifo=False,
    visibility_timeout_s=30,
    max_receive_count=0,
    dead_letter=False,
)
QUEUES: tuple[Queue, ...] = (TOKEN_PUSH_QUEUE, OUTBOX_FAILURES_QUEUE)


STREAM_CONSUMER = StreamConsumer()

EVENT_BUS_ENV = env_names.EVENT_BUS_NAME
SUPPORT_LOG_GROUPS_ENV = env_names.SUPPORT_LOG_GROUPS
ALARM_NAME_PREFIX_ENV = env_names.ALARM_NAME_PREFIX
EVENT_SOURCE = "roam-emp"
LOCATION_PULL_REQUESTED = "LocationPullRequested"

OCPI_PREFIX = "/ocpi"
VERSION_PATH = "/ocpi/2.2.1"

_STATE_RW = {STATE_TABLE.key: Access.WRITE}

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="OcpiVersions",
        handler="roam_emp.handlers.ocpi_versions.handler",
        description="OCPI versions and 2.2.1 version details (EMSP role)",
        routes=(
            Route("GET", "/ocpi/versions", Auth.OCPI),
            Route("GET", VERSION_PATH, Auth.OCPI),
        ),
        tables={STATE_TABLE.key: Access.READ},
        secrets={HUB_CREDENTIALS.key: Access.READ},
        memory_mb=256,
    ),
    Function(
        name="OcpiCredentials",
        handler="roam_emp.handlers.ocpi_credentials.handler",
        description="OCPI credentials module: registration, token rotation, unregistration",
        routes=tuple(
            Route(method, f"{VERSION_PATH}/credentials", Auth.OCPI)
            for method in ("GET", "POST", "PUT", "DELETE")
        ),
        tables=_STATE_RW,
        secrets={HUB_CREDENTIALS.key: Access.WRITE},
        publishes_events=True,
        calls_hub=True,
    ),
    Function(
        name="AdminRegistration",
        handler="roam_emp.handlers.admin_registration.handler",
        description="Admin API: register with Plugsurfing, issue token A, connection status",
        routes=(
            Route("GET", "/admin/registration", Auth.IAM),
            Route("POST", "/admin/registration", Auth.IAM),
            Route("DELETE", "/admin/registration", Auth.IAM),
            Route("POST", "/admin/registration/token-a", Auth.IAM),
        ),
        tables=_STATE_RW,
        secrets={HUB_CREDENTIALS.key: Access.WRITE},
        publishes_events=True,
        calls_hub=True,
    ),
    Function(
        name="OcpiAuthorize",
        handler="roam_emp.handlers.ocpi_authorize.handler",
        description="OCPI real-time authorization: POST tokens/{uid}/authorize",
        routes=(Route("POST", f"{VERSION_PATH}/tokens/{{token_uid}}/authorize", Auth.OCPI),),
        tables={
            TOKENS_TABLE.key: Access.READ,
            LOCATIONS_TABLE.key: Access.READ,
            AUTHORIZATIONS_TABLE.key: Access.WRITE,
        },
        secrets={HUB_CREDENTIALS.key: Access.READ},
        invokes_auth_hook=True,
        timeout_s=10,  # Plugsurfing gives up after 1-10 s anyway
        memory_mb=1024,  # more memory is more CPU: a faster cold start on the hot path
    ),
    Function(
        name="OcpiTokens",
        handler="roam_emp.handlers.ocpi_tokens.handler",
        description="OCPI Tokens sender interface: GET tokens (paged)",
        routes=(Route("GET", f"{VERSION_PATH}/tokens", Auth.OCPI),),
        tables={TOKENS_TABLE.key: Access.READ},
        secrets={HUB_CREDENTIALS.key: Access.READ},
        memory_mb=256,
    ),
    Function(
        name="AdminTokens",
        handler="roam_emp.handlers.admin_tokens.handler",
        description="Admin API: queue token pushes (create, update, disable) and read their state",
        routes=(
            Route("POST", "/admin/tokens", Auth.IAM),
            Route("PATCH", "/admin/tokens/{uid}", Auth.IAM),
            Route("GET", "/admin/tokens/{uid}", Auth.IAM),
            # Operations (docs/tokens.md): FAILED list, redrive, re-sync, bulk import.
            Route("GET", "/admin/tokens", Auth.IAM),
            Route("POST", "/admin/tokens/redrive", Auth.IAM),
            Route("POST", "/admin/tokens/resync", Auth.IAM),
            Route("POST", "/admin/tokens/import", Auth.IAM),
        ),
        tables={TOKENS_TABLE.key: Access.WRITE, AUTHORIZATIONS_TABLE.key: Access.READ},
        queues_send=(TOKEN_PUSH_QUEUE.key,),
        queues_redrive=(TOKEN_PUSH_QUEUE.key,),
    ),
    Function(
        name="TokenPush",
        handler="roam_emp.handlers.token_push.handler",
        description="Pushes queued token changes to Plugsurfing, in order per token",
        tables={TOKENS_TABLE.key: Access.WRITE, STATE_TABLE.key: Access.READ},
        secrets={HUB_CREDENTIALS.key: Access.READ},
        queue_consume=TOKEN_PUSH_QUEUE.key,
        calls_hub=True,
        # A fresh invocation can always wait for the next clock minute's budget (at most 60 s)
        # and still push before its deadline (docs/tokens.md): batches are handed back only by
        # invocations that already waited, so a backlog is not received again and again on its
        # way to the dead-letter queue. The queue's visibility (360 s) stays above it.
        timeout_s=90,
    ),
    Function(
        name="OcpiSessions",
        handler="roam_emp.handlers.ocpi_sessions.handler",
        description="OCPI Sessions receiver: PUT/PATCH/GET sessions pushed by Plugsurfing",
        routes=tuple(
            Route(method, f"{VERSION_PATH}/sessions/{{country_code}}/{{party_id}}/{{session_id}}", Auth.OCPI)
            for method in ("GET", "PUT", "PATCH")
        ),
        tables={SESSIONS_TABLE.key: Access.WRITE},
        secrets={HUB_CREDENTIALS.key: Access.READ},
    ),
    Function(
        name="OcpiCdrs",
        handler="roam_emp.handlers.ocpi_cdrs.handler",
        description="OCPI CDRs receiver: acknowledged after two durable writes (S3 archive, DynamoDB)",
        routes=(
            Route("POST", f"{VERSION_PATH}/cdrs", Auth.OCPI),
            Route("GET", f"{VERSION_PATH}/cdrs/{{cdr_id}}", Auth.OCPI),
        ),
        tables={CDRS_TABLE.key: Access.WRITE},
        secrets={HUB_CREDENTIALS.key: Access.READ},
        buckets={CDR_ARCHIVE.key: ("s3:PutObject", "s3:GetObject")},  # Get: CDRs too large for an item
        memory_mb=1024,
    ),
    Function(
        name="OcpiCommands",
        handler="roam_emp.handlers.ocpi_commands.handler",
        description="OCPI commands: CommandResult callbacks at our response_url",
        routes=(Route("POST", f"{VERSION_PATH}/commands/{{command}}/{{command_id}}", Auth.OCPI),),
        tables={COMMANDS_TABLE.key: Access.WRITE},
        secrets={HUB_CREDENTIALS.key: Access.READ},
        memory_mb=256,
    ),
    Function(
        name="AdminCommands",
        handler="roam_emp.handlers.admin_commands.handler",
        description="Admin API: remote START_SESSION / STOP_SESSION and their state",
        # API Gateway wants one name per path level: {command} is the command type for POST and
        # the command id for GET.
        routes=(
            Route("POST", "/admin/commands/{command}", Auth.IAM),
            Route("GET", "/admin/commands/{command}", Auth.IAM),
        ),
        tables={
            COMMANDS_TABLE.key: Access.WRITE,
            TOKENS_TABLE.key: Access.READ,
            LOCATIONS_TABLE.key: Access.READ,
            STATE_TABLE.key: Access.READ,
        },
        secrets={HUB_CREDENTIALS.key: Access.READ},
        calls_hub=True,
    ),
    Function(
        name="AdminSupport",
        handler="roam_emp.handlers.admin_support.handler",
        description="Admin API: the support bundle Plugsurfing's support asks for, and the status page",
        routes=(Route("GET", "/admin/support", Auth.IAM), Route("GET", "/admin/status", Auth.IAM)),
        tables={
            STATE_TABLE.key: Access.READ,  # GET /admin/status: the connection and the pulls
            SESSIONS_TABLE.key: Access.READ,
            CDRS_TABLE.key: Access.READ,
            TOKENS_TABLE.key: Access.READ,
            AUTHORIZATIONS_TABLE.key: Access.READ,
            LOCATIONS_TABLE.key: Access.READ,
        },
        reads_logs=True,
        reads_status=True,
        memory_mb=256,
    ),
    Function(
        name="LocationPull",
        handler="roam_emp.handlers.location_pull.handler",
        description="Full and delta Location pulls from Plugsurfing with smart_paging checkpoints",
        tables={STATE_TABLE.key: Access.WRITE, LOCATIONS_TABLE.key: Access.WRITE},
        secrets={HUB_CREDENTIALS.key: Access.READ},
        publishes_events=True,
        calls_hub=True,
        schedules=(
            Schedule("DeltaPull", "location_delta_pull_minutes", (("mode", "delta"),)),
            Schedule("FullPull", "location_full_pull_cron", (("mode", "full"),)),
        ),
        on_events=(LOCATION_PULL_REQUESTED,),
        timeout_s=900,
        memory_mb=1024,
    ),
    Function(
        name="AdminLocations",
        handler="roam_emp.handlers.admin_locations.handler",
        description="Admin API: start a Location pull, read the Locations cache",
        routes=(
            Route("POST", "/admin/locations/pull", Auth.IAM),
            Route("POST", "/admin/locations/pull/reset", Auth.IAM),
            Route("GET", "/admin/locations/pull", Auth.IAM),
            Route("GET", "/admin/locations", Auth.IAM),
            Route("GET", "/admin/locations/{location_id}", Auth.IAM),
            Route("GET", "/admin/locations/{location_id}/estimate", Auth.IAM),
        ),
        tables={STATE_TABLE.key: Access.READ, LOCATIONS_TABLE.key: Access.READ},
        publishes_events=True,  # LocationPullRequested: a request to act, not a stored fact
    ),
    Function(
        name="OutboxRelay",
        handler="roam_emp.handlers.outbox_relay.handler",
        description="Transactional outbox: committed table changes (DynamoDB Streams) to domain "
        "events on the bus; enriches CDRs after their acknowledgement",
        # CDR enrichment: token match, session link, cost check (location time zone), written
        # back to the CDR item; a session's arrival re-links its CDR.
        tables={
            CDRS_TABLE.key: Access.WRITE,
            TOKENS_TABLE.key: Access.READ,
            SESSIONS_TABLE.key: Access.READ,
            LOCATIONS_TABLE.key: Access.READ,
        },
        streams_consume=tuple(t.key for t in TABLES if t.stream),
        buckets={CDR_ARCHIVE.key: ("s3:GetObject",)},  # CDRs too large for an item
        publishes_events=True,
        timeout_s=120,
        memory_mb=1024,
    ),
    Function(
        name="CommandTimeouts",
        handler="roam_emp.handlers.command_timeouts.handler",
        description="The timer of remote commands: TIMEOUT for every command without a "
        "CommandResult by its due time, with nobody calling GET",
        tables={COMMANDS_TABLE.key: Access.WRITE},
        schedules=(Schedule("CommandTimeoutSweep", "command_timeout_sweep_minutes", ()),),
        timeout_s=60,
        memory_mb=256,
    ),
    Function(
        name="AdminCdrs",
        handler="roam_emp.handlers.admin_cdrs.handler",
        description="Admin API: a CDR with its enrichment facts; reprocess a refused or stored CDR "
        "through the current code",
        routes=(
            Route("GET", "/admin/cdrs/{cdr_id}", Auth.IAM),
            Route("POST", "/admin/cdrs/reprocess", Auth.IAM),
            Route("POST", "/admin/cdrs/check", Auth.IAM),
        ),
        # the cost check reads the cached location's time zone (LocationCache.time_zone_of)
        tables={CDRS_TABLE.key: Access.WRITE, LOCATIONS_TABLE.key: Access.READ},
        buckets={CDR_ARCHIVE.key: ("s3:GetObject", "s3:PutObject")},
        memory_mb=512,
    ),
    Function(
        name="AdminPrivacy",
        handler="roam_emp.handlers.admin_privacy.handler",
        description="Admin API: GDPR erasure of one driver (tokens and authorizations deleted, "
        "sessions, CDRs and commands pseudonymised)",
        routes=(Route("POST", "/admin/privacy/forget", Auth.IAM),),
        tables={
            TOKENS_TABLE.key: Access.WRITE,
            AUTHORIZATIONS_TABLE.key: Access.WRITE,
            SESSIONS_TABLE.key: Access.WRITE,
            CDRS_TABLE.key: Access.WRITE,
            COMMANDS_TABLE.key: Access.WRITE,
        },
        publishes_events=True,  # PersonalDataForgotten, without personal fields
        memory_mb=512,
    ),
)


def function_for(method: str, path: str) -> tuple[Function, Route, dict[str, str]] | None:
    """Find the function serving a concrete request path (what API Gateway does for us in AWS)."""
    parts = [p for p in path.split("/") if p]
    for function in FUNCTIONS:
        for route in function.routes:
            if route.method != method.upper():
                continue
            template = [p for p in route.path.split("/") if p]
            if len(template) != len(parts):
                continue
            params: dict[str, str] = {}
            for want, got in zip(template, parts, strict=True):
                if want.startswith("{") and want.endswith("}"):
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                return function, route, params
    return None


def path_exists(path: str) -> bool:
    """True when some function serves this path with any method (405 rather than 404)."""
    return any(function_for(m, path) for m in ("GET", "POST", "PUT", "PATCH", "DELETE"))


@dataclass(frozen=True)
class OfferedEndpoint:
    """An entry of our version details (EMSP role); modules are added as they are built."""

    identifier: str
    role: str
    path: str


OFFERED_ENDPOINTS: tuple[OfferedEndpoint, ...] = (
    OfferedEndpoint("credentials", "SENDER", f"{VERSION_PATH}/credentials"),
    # EMSP Tokens SENDER: the token list, and real-time authorization at {tokens}/{uid}/authorize.
    OfferedEndpoint("tokens", "SENDER", f"{VERSION_PATH}/tokens"),
    OfferedEndpoint("sessions", "RECEIVER", f"{VERSION_PATH}/sessions"),
    OfferedEndpoint("cdrs", "RECEIVER", f"{VERSION_PATH}/cdrs"),
    OfferedEndpoint("commands", "SENDER", f"{VERSION_PATH}/commands"),
)
