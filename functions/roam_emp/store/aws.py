"""boto3 clients, created once per process and endpoint.

boto3 honours ``AWS_ENDPOINT_URL``, which is how local mode points every client at moto's server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

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


@lru_cache(maxsize=16)
def _client(service: str, endpoint: str | None, region: str | None, ours: bool) -> Any:
    made = boto3.session.Session().client(  # type: ignore[call-overload]
        service, config=_CONFIG, region_name=region
    )
    if ours:
        for hook in list(_client_hooks.values()):
            hook(made, service)
    return made


def client(service: str) -> Any:
    """The client our functions use (seen by local mode's hooks: faults, the events file)."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"), True)


def platform_client(service: str) -> Any:
    """A client for what AWS itself does in the cloud (local event source pollers, provisioning,
    test assertions): never subject to injected faults."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"), False)


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
    """Drop cached clients (tests and local mode switch endpoints)."""
    _client.cache_clear()
