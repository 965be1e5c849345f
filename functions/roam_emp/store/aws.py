"""AWS clients, created once per process and endpoint, on first use.

botocore directly, not boto3: ``import boto3`` also loads s3transfer and boto3's resource layer,
which nothing here uses, and cold start is what Plugsurfing's 1-10 s authorize timeout waits for
(issue 11, docs/performance.md). One botocore session is shared by every client, so the endpoint
rules and credentials are loaded once, not once per client.

botocore honours ``AWS_ENDPOINT_URL``, which is how local mode points every client at moto's server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

from . import botocore_data

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Short timeouts and standard retries: an API Gateway request must answer within 29 s and
# Plugsurfing's authorize timeout can be as short as 1 s.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


# Hooks called with every new client of ``client()``, in the order they were added: local mode's
# events file (local/events_tap.py) and injected faults (local/faults.py) attach botocore handlers
# there. None in Lambda.
_client_hooks: dict[str, Callable[[Any, str], None]] = {}


_session: botocore.session.Session | None = None
# botocore's data trimmed to what this function calls, when the bundle ships it (botocore_data.py);
# set by the handler module (the authorize function), read when the session is created.
_shipped_data: Path | None = None
# The services that trimmed data was written for; a client of any other service comes from a
# second session on botocore's full data: the trimmed endpoints.json lists only the shipped
# services, and a global one (S3's aws-global, IAM) would resolve differently without its entry.
_shipped_services: frozenset[str] = frozenset()
_full_session: botocore.session.Session | None = None
# A botocore session is not thread-safe while it creates clients (clients themselves are).
_session_lock = threading.Lock()


_clients: dict[tuple[str, str | None, str | None, bool], Any] = {}


def _client(service: str, endpoint: str | None, region: str | None, ours: bool) -> Any:
    key = (service, endpoint, region, ours)
    made = _clients.get(key)
    if made is not None:
        return made
    global _session
    # Under the lock: two threads asking at once (authorize's parallel reads) get one client.
    with _session_lock:
        made = _clients.get(key)
        if made is not None:
            return made
        made = _session_for(service).create_client(service, config=_CONFIG, region_name=region)
        if ours:
            for hook in list(_client_hooks.values()):
                hook(made, service)
        _clients[key] = made
    return made


def _session_for(service: str) -> botocore.session.Session:
    """The shared session (under ``_session_lock``); for a service the shipped data was not
    written for, a session on botocore's full data."""
    global _session, _shipped_services, _full_session
    if _session is None:
        _session = botocore.session.get_session()
        shipped = botocore_data.loader(_shipped_data) if _shipped_data is not None else None
        if shipped is not None:
            _session.register_component("data_loader", shipped)
            _shipped_services = shipped.services
    if not _shipped_services or service in _shipped_services:
        return _session
    if _full_session is None:
        _full_session = botocore.session.get_session()
    return _full_session


def client(service: str) -> Any:
    """The client our functions use (seen by local mode's hooks: faults, the events file)."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"), True)


def platform_client(service: str) -> Any:
    """A client for what AWS itself does in the cloud (local event source pollers, provisioning,
    test assertions): never subject to injected faults."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"), False)


def build_in_background(service: str) -> None:
    """Create our client for ``service`` on a thread unless it exists: a cold start builds it
    while another call's network round trip is in flight (the authorize function: the DynamoDB
    client during the first Secrets Manager read, issue 11). Building a client makes no call."""
    key = (service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"), True)
    if key not in _clients:
        threading.Thread(target=client, args=(service,), name=f"build-{service}", daemon=True).start()


def use_shipped_data(directory: Path | None) -> None:
    """Let the next session's clients read botocore's data from ``directory`` first, if the bundle
    ships it for this botocore (botocore_data.py); None: botocore's own data only."""
    global _shipped_data
    _shipped_data = directory


def add_client_hook(name: str, hook: Callable[[Any, str], None]) -> None:
    """Attach ``hook`` to every client of ours created from now on; drops cached clients."""
    _client_hooks[name] = hook
    reset()


def remove_client_hook(name: str) -> None:
    if _client_hooks.pop(name, None) is not None:
        reset()


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")  # type: ignore[no-any-return]


def secretsmanager() -> SecretsManagerClient:
    return client("secretsmanager")  # type: ignore[no-any-return]


def events() -> EventBridgeClient:
    return client("events")  # type: ignore[no-any-return]


def reset() -> None:
    """Drop cached clients and the session (tests and local mode switch endpoints)."""
    global _session, _shipped_services, _full_session
    with _session_lock:
        _clients.clear()
        _session = _full_session = None
        _shipped_services = frozenset()
