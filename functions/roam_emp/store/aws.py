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


# Called with every new client of ``client()``: local mode's --aws-faults and the fault-injection
# tests attach botocore hooks there (roam_emp.local.faults). None in Lambda.
_on_new_client: Callable[[Any, str], None] | None = None


@lru_cache(maxsize=16)
def _client(service: str, endpoint: str | None, region: str | None, faulty: bool) -> Any:
    made = boto3.session.Session().client(  # type: ignore[call-overload]
        service, config=_CONFIG, region_name=region
    )
    if faulty and _on_new_client is not None:
        _on_new_client(made, service)
    return made


def client(service: str) -> Any:
    """The client our functions use (subject to injected faults in local mode)."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"), True)


def platform_client(service: str) -> Any:
    """A client for what AWS itself does in the cloud (local event source pollers, provisioning,
    test assertions): never subject to injected faults."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"), False)


def on_new_client(hook: Callable[[Any, str], None] | None) -> None:
    """Attach ``hook`` to every client created from now on (None: stop); drops cached clients."""
    global _on_new_client
    _on_new_client = hook
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
