"""Count AWS API calls made in this process, by service and operation.

Benchmarks run local mode with ship_logs=False: in AWS, Lambda delivers logs outside the function,
so the local log shipper's PutLogEvents calls are not ours to count."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.endpoint import Endpoint


@contextmanager
def counting(
    *,
    this_thread_only: bool = False,
    skip_threads: tuple[str, ...] = (),
    observe: Callable[[str, Any], None] | None = None,
) -> Iterator[Counter[str]]:
    """``this_thread_only``: only the calls of the thread that counts (an operation run in-process),
    not those of local mode's pollers and stream consumer running beside it; ``skip_threads``:
    not the calls of threads whose names start so (e.g. ``stream-``: the outbox relay);
    ``observe``: also handed each counted call's name and request (the cost model's item sizes)."""
    counts: Counter[str] = Counter()
    original = Endpoint.make_request
    me = threading.get_ident()

    def make_request(self: Endpoint, operation_model: Any, request_dict: Any) -> Any:
        name = f"{operation_model.service_model.service_name}:{operation_model.name}"
        # Local mode's trigger pollers long-poll SQS and DynamoDB Streams in the background: not
        # part of any operation (Lambda's pollers, in AWS).
        polling = name == "sqs:ReceiveMessage" or name.startswith("dynamodbstreams:")
        skipped = threading.current_thread().name.startswith(skip_threads) if skip_threads else False
        if not polling and not skipped and (not this_thread_only or threading.get_ident() == me):
            counts[name] += 1
            if observe is not None:
                observe(name, request_dict)
        return original(self, operation_model, request_dict)

    Endpoint.make_request = make_request  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        Endpoint.make_request = original  # type: ignore[method-assign]
