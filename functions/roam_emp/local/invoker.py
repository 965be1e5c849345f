"""Invoke the real handlers in this process, the way Lambda would: a LambdaContext-like object
with a real deadline, and one lock per function (one warm instance each: Powertools' resolver keeps
the current event on the app object, so a module must not serve two events at once)."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import topology

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    """The parts of LambdaContext the handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    aws_request_id: str
    invoked_function_arn: str
    timeout_s: int
    log_group_name: str = "local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


def load_handler(dotted: str) -> Handler:
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


def context_for(function: topology.Function) -> LocalContext:
    return LocalContext(
        function_name=f"roam-emp-{function.name}",
        memory_limit_in_mb=function.memory_mb,
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn=f"arn:aws:lambda:eu-central-1:000000000000:function:{function.name}",
        timeout_s=function.timeout_s,
    )


class Invoker:
    """HTTP functions run one event at a time (their resolver holds the current event);
    the others run concurrently, like several Lambda instances."""

    def __init__(self) -> None:
        self._locks = {f.name: threading.Lock() if f.routes else _NoLock() for f in topology.FUNCTIONS}
        self._count = threading.Lock()
        self.invocations = {f.name: 0 for f in topology.FUNCTIONS}

    def invoke(self, function: topology.Function, event: dict[str, Any]) -> Any:
        handler = load_handler(function.handler)
        with self._count:
            self.invocations[function.name] += 1
        with self._locks[function.name]:
            return handler(event, context_for(function))


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None
