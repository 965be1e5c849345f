"""The store tests' two DynamoDB backends (issue 13): moto, and DynamoDB Local (AWS's emulator,
one server per session: tests/dynamodb_local.py). Both run moto in-process for everything else;
with ``dynamodb-local`` only DynamoDB goes to the server. docs/dynamodb-local.md lists every
difference found. Import ``backend`` into a test module: its tables are made once per backend."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from roam_emp import topology
from roam_emp.store import aws

from .conftest import TEST_ENV, _reset_process_caches

_ids = itertools.count()
ITEM_LIMIT = 400 * 1024  # AWS's, in bytes
MOTO_ITEM_LIMIT = 405_000  # moto's own bound (moto/dynamodb/models/dynamo_type.py)


@dataclass(frozen=True)
class Backend:
    name: str
    env: dict[str, str]

    @property
    def local(self) -> bool:
        return self.name == "dynamodb-local"

    def table(self, table: topology.Table) -> str:
        return self.env[table.env_var]


@pytest.fixture(scope="module", params=["moto", "dynamodb-local"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """moto in-process for everything; with ``dynamodb-local``, DynamoDB is DynamoDB Local."""
    from moto import mock_aws

    from roam_emp.local.provision import LocalNames, apply, provision

    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(TEST_ENV)
    if request.param == "dynamodb-local":
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = request.getfixturevalue("dynamodb_local")
    _reset_process_caches()
    try:
        with mock_aws():
            env = provision(LocalNames(prefix=f"store{os.getpid()}-{next(_ids)}"))
            apply(env)
            _reset_process_caches()
            yield Backend(request.param, env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _reset_process_caches()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def error_of(call: Callable[[], Any]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def race(backend: Backend, *writers: Callable[[], Any]) -> list[Any]:
    """Run the writers at the same moment, each in its own thread; their results or errors.
    Only on DynamoDB Local: moto in-process checks a condition and writes without a lock, so two
    threads can both pass ``attribute_not_exists`` (seen here: two CDR bodies both STORED)."""
    if not backend.local:
        pytest.skip("moto's conditional writes are not atomic across threads (docs/dynamodb-local.md)")
    barrier = threading.Barrier(len(writers))
    results: list[Any] = [None] * len(writers)

    def run(index: int, writer: Callable[[], Any]) -> None:
        barrier.wait(timeout=60)
        try:
            results[index] = writer()
        except Exception as error:  # the loser's error is the result
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def put(backend: Backend, item: dict[str, Any], **extra: Any) -> Any:
    """A put into the state table (keys pk, sk; no index)."""
    return aws.dynamodb().put_item(TableName=backend.table(topology.STATE_TABLE), Item=item, **extra)
