"""Token pushes and Plugsurfing's budget (issue 11): one HTTP client per container, and a batch
handed back to the queue rather than sleeping past the function's remaining time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from roam_emp import config, topology
from roam_emp.domain.tokens import TokenPusher
from roam_emp.handlers.token_push import handle_batch
from roam_emp.hub.rate_limit import HubRateLimiter, Share
from roam_emp.local.runtime import LocalRuntime
from roam_emp.local.triggers import sqs_event
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store import aws
from tests.helpers import register
from tests.test_rate_limit import FakeClock
from tests.test_tokens import new_uid, sim_tokens, state_of

Local = tuple[LocalRuntime, RoamSimulator]
# 58 s into a clock minute, on a day no other test uses: the next minute starts in 2 s.
LATE_IN_A_MINUTE = 1_900_000_000.0 - (1_900_000_000 % 60) + 58


class FakeContext:
    """What the handler reads of LambdaContext: the remaining time."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def registered(local: Local) -> Iterator[Local]:
    rt, sim = local
    if not sim.state.registered:
        register(rt, sim).raise_for_status()
    yield rt, sim


def stored_unqueued(pusher: TokenPusher, uids: list[str]) -> list[int]:
    """Tokens stored QUEUED as the admin API would, without a message on the real queue (the
    test hands the batch to the consumer itself)."""
    service = pusher.service
    return [
        service.store.save_queued(
            service.validate(service.complete({"uid": u, "type": "RFID", "contract_id": "NLEMPC00000001"}))
        )
        for u in uids
    ]


def received_batch(uids: list[str], versions: list[int]) -> tuple[str, list[dict[str, Any]], str]:
    """A FIFO queue of the test's own holding one message per token, received as Lambda's poller
    would (real receipt handles, a 300 s visibility timeout)."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(
        QueueName=f"handback-{uids[0]}.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "300"}
    )["QueueUrl"]
    for uid, version in zip(uids, versions, strict=True):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"type": "RFID", "uid": uid, "version": version}),
            MessageGroupId=f"RFID#{uid}",
            MessageDeduplicationId=f"{uid}-{version}",
        )
    messages: list[dict[str, Any]] = []
    while len(messages) < len(uids):
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages.extend(answer.get("Messages", []))
    messages.sort(key=lambda m: json.loads(m["Body"])["uid"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, messages, arn


def test_the_rest_of_a_batch_is_handed_back_instead_of_sleeping_past_the_deadline(registered: Local) -> None:
    _, sim = registered
    settings = config.settings()
    clock = FakeClock(LATE_IN_A_MINUTE)
    tight = HubRateLimiter(
        settings.state_table,
        per_minute=2,
        per_day=1000,
        share=Share.BULK,
        clock=clock.time,
        sleep=clock.sleep,
    )
    pusher = TokenPusher.from_settings(settings, max_receive_count=5)
    pusher.limiter = tight
    first = new_uid()
    uids = [f"{first}{i}" for i in range(5)]
    url, messages, arn = received_batch(uids, stored_unqueued(pusher, uids))
    # One second left once the margin a push needs is kept: the next minute (2 s away) is too late.
    context = FakeContext(int((pusher.deadline_margin_s + 1) * 1000))

    answer = handle_batch(sqs_event(messages, arn), context, pusher, url)  # type: ignore[arg-type]

    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    assert failed == [m["MessageId"] for m in messages[2:]]
    assert clock.slept == []  # never waited for the next minute
    held = sim_tokens(sim)["tokens"]
    assert [f"NL/EMP/RFID/{u}" in held for u in uids] == [True, True, False, False, False]
    rt = registered[0]
    for uid in uids[2:]:
        state = state_of(rt, uid)
        assert (state["push_state"], state.get("push_error")) == ("QUEUED", None)  # untouched
    # Back on the queue when the next minute's budget opens (2 s), not after its 300 s timeout.
    sqs = aws.client("sqs")
    again: set[str] = set()

    def visible_again() -> bool:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        again.update(m["MessageId"] for m in answer.get("Messages", []))
        return again == set(failed)

    assert wait_for(visible_again, seconds=60)


def test_one_http_client_serves_every_push_of_a_container(registered: Local) -> None:
    _, sim = registered
    pusher = TokenPusher.from_settings(config.settings(), max_receive_count=5)
    first = new_uid()
    uids = [f"{first}{i}" for i in range(3)]
    clients = []
    for uid, version in zip(uids, stored_unqueued(pusher, uids), strict=True):
        assert pusher.handle(json.dumps({"type": "RFID", "uid": uid, "version": version})) == "pushed"
        clients.append((pusher.hub(), pusher.hub().http))
    assert all(c == clients[0] for c in clients)  # the same HubClient and httpx.Client
    http = clients[0][1]
    assert http is not None and not http.is_closed  # kept open (keep-alive) between pushes
    assert all(f"NL/EMP/RFID/{u}" in sim_tokens(sim)["tokens"] for u in uids)
    assert pusher.hub().limiter.share is Share.BULK  # type: ignore[attr-defined]
    pusher.close()
    assert http.is_closed


def test_a_fresh_invocation_can_always_wait_for_the_next_minute() -> None:
    """Only an invocation that already waited hands anything back: otherwise every invocation
    starting early in a spent minute would hand its batch straight back, and a backlog would be
    received again and again on its way to the dead-letter queue (docs/tokens.md)."""
    function = next(f for f in topology.FUNCTIONS if f.name == "TokenPush")
    margin = TokenPusher.from_settings(config.Settings.from_env(), max_receive_count=5).deadline_margin_s
    assert function.timeout_s - margin > 60  # a clock minute is at most 60 s away
    assert topology.TOKEN_PUSH_QUEUE.visibility_timeout_s >= function.timeout_s  # AWS requires it
