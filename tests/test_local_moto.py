"""Local mode's moto server keeps AWS's per-item atomicity of conditional writes
(local/moto_server.py AtomicDynamoDB)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from roam_emp.local.moto_server import AtomicDynamoDB


class _Recorder:
    """A WSGI app that notes how many requests of each kind it serves at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        kind = environ.get("HTTP_X_AMZ_TARGET", "other").split(".")[0]
        with self.lock:
            self.running[kind] = self.running.get(kind, 0) + 1
            self.most[kind] = max(self.most.get(kind, 0), self.running[kind])
        time.sleep(0.02)  # long enough for the other threads to arrive
        with self.lock:
            self.running[kind] -= 1
        start_response("200 OK", [])
        return [kind.encode()]


def test_dynamodb_requests_are_served_one_at_a_time_and_the_others_are_not() -> None:
    """moto's plain server let a conditional `SET s = PUSHED if version = 1` land after a racing
    `ADD version 1` in 2 of 800 races (measured under load): the token consumer then believed a
    newer change pushed, and it never was. One DynamoDB request at a time ends races as AWS does."""
    recorder = _Recorder()
    app = AtomicDynamoDB(recorder)
    targets = ["DynamoDB_20120810.UpdateItem", "DynamoDBStreams_20120810.GetRecords", None] * 8

    def call(target: str | None) -> list[bytes]:
        environ = {"HTTP_X_AMZ_TARGET": target} if target else {}
        return list(app(environ, lambda status, headers: None))

    with ThreadPoolExecutor(len(targets)) as pool:
        answers = list(pool.map(call, targets))
    assert recorder.most["DynamoDB_20120810"] == 1
    # S3, SQS, DynamoDB Streams' reads ... keep their concurrency
    assert recorder.most["other"] > 1 and recorder.most["DynamoDBStreams_20120810"] > 1
    assert answers[0] == [b"DynamoDB_20120810"]
