"""The kinds of resource topology.py describes: tables and their indexes, queues, buckets,
secrets, routes, schedules and functions. Pure data: no boto3, no CDK imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None
    include: tuple[str, ...] = ()  # non-key attributes projected (INCLUDE); empty = KEYS_ONLY


@dataclass(frozen=True)
class Table:
    key: str  # stable short name, used for grants
    env_var: str  # the Lambda environment variable carrying the table name
    partition_key: str = "pk"
    sort_key: str | None = "sk"
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = "expires_at"
    # DynamoDB Streams (NEW_AND_OLD_IMAGES): the table holds facts the EMP's systems hear about.
    # The OutboxRelay turns its committed changes into domain events (a transactional outbox:
    # events come from the store, never from the request that wrote it).
    stream: bool = False


@dataclass(frozen=True)
class Queue:
    key: str
    env_var: str
    fifo: bool
    visibility_timeout_s: int
    max_receive_count: int  # deliveries before a message moves to the dead-letter queue
    # False for a queue that is itself where failures land (an on-failure destination): it has
    # no dead-letter queue of its own, and its depth is alarmed instead.
    dead_letter: bool = True

    @property
    def dead_letter_env_var(self) -> str:
        """Where the dead-letter queue's URL is given (GET /admin/status reads its depth); a
        queue without one is itself the place failures land."""
        return self.env_var.replace("_QUEUE_URL", "_DLQ_URL") if self.dead_letter else self.env_var


@dataclass(frozen=True)
class Secret:
    key: str
    env_var: str
    description: str


class Auth(StrEnum):
    OCPI = "ocpi"  # OCPI credentials token, checked in the function (transport_and_format)
    IAM = "iam"  # SigV4 in AWS; open on 127.0.0.1 in local mode


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway style: /ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}
    auth: Auth


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule invoking a function with a constant payload. ``setting`` names the
    StackConfig field holding the expression: an int is a rate in minutes, a str a cron/rate."""

    name: str
    setting: str
    payload: tuple[tuple[str, str], ...]


class Access(StrEnum):
    READ = "read"
    WRITE = "read_write"  # the exact DynamoDB actions per function and table: grants.py


@dataclass(frozen=True)
class Function:
    name: str
    handler: str  # dotted path "roam_emp.handlers.module.handler"
    description: str
    routes: tuple[Route, ...] = ()
    tables: dict[str, Access] = field(default_factory=dict)
    secrets: dict[str, Access] = field(default_factory=dict)
    # S3 actions per bucket, on the archive prefixes only (ARCHIVE_PREFIXES)
    buckets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    queues_send: tuple[str, ...] = ()
    queue_consume: str | None = None  # SQS event source (partial batch responses)
    # Queues whose dead-letter queue this function moves back onto them (an operator's redrive)
    queues_redrive: tuple[str, ...] = ()
    queue_batch_size: int = 10
    # DynamoDB Streams event sources (table keys): ordered per item, partial batch responses,
    # bisect on error, bounded retries, then the on-failure destination (STREAM_CONSUMER).
    streams_consume: tuple[str, ...] = ()
    invokes_auth_hook: bool = False  # may call the EMP's authorization hook Lambda
    publishes_events: bool = False
    calls_hub: bool = False  # outbound Roam OCPI calls (needs the rate limiter's table)
    reads_logs: bool = False  # Logs Insights over every function's log group (support bundle)
    # Queue and dead-letter depths and the stack's open alarms (GET /admin/status)
    reads_status: bool = False
    schedules: tuple[Schedule, ...] = ()
    # detail-types of our own bus's events (source roam-emp) that invoke this function
    on_events: tuple[str, ...] = ()
    timeout_s: int = 29  # API Gateway's integration limit
    memory_mb: int = 512


@dataclass(frozen=True)
class Bucket:
    key: str
    env_var: str
    description: str


@dataclass(frozen=True)
class StreamConsumer:
    """How the stream consumer's event source mappings behave, in AWS and in local mode alike."""

    batch_size: int = 100
    # A record is retried this often before it goes to the on-failure destination; generous,
    # because stopping early loses an event and retrying costs only time (every step is
    # idempotent). A poison record still cannot hold its shard for more than max_record_age_s.
    max_retries: int = 50
    max_record_age_s: int = 6 * 3600
    bisect_on_error: bool = True
