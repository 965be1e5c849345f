"""The shared budget toward Plugsurfing: never exceeded, whatever the concurrency (FAQ: 3,000 per
clock minute, 1,000,000 per UTC day)."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.hub.errors import RateBudgetExhausted
from roam_emp.hub.rate_limit import HubRateLimiter, PermitAfterDeadline, Share

NOON = 1_764_000_000.0 - (1_764_000_000 % 60) + 5  # 5 s into a clock minute


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.lock = threading.Lock()
        self.slept: list[float] = []

    def time(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)
            self.now += seconds


def limiter(env: dict[str, str], clock: FakeClock, **kwargs: Any) -> HubRateLimiter:
    return HubRateLimiter(env[topology.STATE_TABLE.env_var], clock=clock.time, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def test_concurrent_callers_never_exceed_the_minute_budget(moto_server: dict[str, str]) -> None:
    clock = FakeClock(NOON)
    shared = limiter(moto_server, clock, per_minute=40, per_day=10_000, max_wait_s=0)
    granted = 0
    refused = 0
    lock = threading.Lock()

    def caller(_: int) -> None:
        nonlocal granted, refused
        try:
            shared.acquire()
            with lock:
                granted += 1
        except RateBudgetExhausted:
            with lock:
                refused += 1

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(caller, range(100)))
    assert (granted, refused) == (40, 60)
    assert shared.used(NOON) == (40, 40)


def test_a_spent_minute_waits_for_the_next_clock_minute(moto_server: dict[str, str]) -> None:
    clock = FakeClock(NOON + 5 * 86400)  # a day of its own
    shared = limiter(moto_server, clock, per_minute=3, per_day=10_000)
    for _ in range(5):
        shared.acquire()
    # 3 in the first minute, then one wait of ~55 s to the minute boundary, then 2 more.
    assert len(clock.slept) == 1
    assert 54.9 < clock.slept[0] < 55.1
    assert shared.waited_s == pytest.approx(clock.slept[0])
    assert shared.used() == (2, 5)


def test_the_day_budget_refuses_and_gives_the_minute_unit_back(moto_server: dict[str, str]) -> None:
    clock = FakeClock(NOON + 2 * 86400)
    shared = limiter(moto_server, clock, per_minute=100, per_day=2)
    shared.acquire()
    shared.acquire()
    with pytest.raises(RateBudgetExhausted, match="daily budget"):
        shared.acquire()
    assert shared.used() == (2, 2)


def test_bulk_work_leaves_the_interactive_reserve_of_every_minute(moto_server: dict[str, str]) -> None:
    clock = FakeClock(NOON + 7 * 86400)
    bulk = limiter(
        moto_server, clock, per_minute=10, per_day=10_000, share=Share.BULK, reserve=3, max_wait_s=0
    )
    interactive = limiter(moto_server, clock, per_minute=10, per_day=10_000, reserve=3, max_wait_s=0)
    for _ in range(7):
        bulk.acquire()
    with pytest.raises(RateBudgetExhausted):
        bulk.acquire()  # the last 3 units of the minute are not bulk's
    for _ in range(3):
        interactive.acquire()
    with pytest.raises(RateBudgetExhausted):
        interactive.acquire()  # and the whole budget still holds
    assert bulk.used() == (10, 10)


def test_an_interactive_call_gets_its_unit_promptly_during_a_saturating_bulk_load(
    moto_server: dict[str, str],
) -> None:
    """Eight bulk workers take units until bulk's share is spent, then wait for the next minute
    (their sleep blocks until the test ends); a remote start arriving meanwhile takes a unit from
    this minute's reserve without waiting."""

    class Stopped(Exception):
        pass

    saturated, stop, granted = threading.Event(), threading.Event(), threading.Event()

    class NextMinuteClock(FakeClock):
        def sleep(self, seconds: float) -> None:
            saturated.set()  # a bulk caller found the share spent and waits for the next minute
            stop.wait(60)
            raise Stopped

    start = NOON + 8 * 86400
    bulk = limiter(
        moto_server, NextMinuteClock(start), per_minute=60, per_day=10_000, share=Share.BULK, reserve=5
    )
    interactive_clock = FakeClock(start)
    interactive = limiter(moto_server, interactive_clock, per_minute=60, per_day=10_000, reserve=5)
    taken = [0] * 8

    def bulk_worker(index: int) -> None:
        with contextlib.suppress(Stopped):
            while not stop.is_set():
                bulk.acquire()
                taken[index] += 1

    def remote_start() -> None:
        interactive.acquire()
        granted.set()

    with ThreadPoolExecutor(max_workers=9) as pool:
        for i in range(8):
            pool.submit(bulk_worker, i)
        try:
            assert saturated.wait(60), "the bulk load never spent its share"
            pool.submit(remote_start)
            assert granted.wait(60), "the interactive call did not get its unit"
        finally:
            stop.set()
    assert interactive_clock.slept == []  # from this minute's reserve, not the next minute
    assert sum(taken) == 55  # bulk never took more than per_minute - reserve
    assert bulk.used() == (56, 56)


def test_a_deadline_before_the_next_minute_refuses_instead_of_sleeping(moto_server: dict[str, str]) -> None:
    clock = FakeClock(NOON + 9 * 86400)  # 5 s into the minute: the next starts in 55 s
    shared = limiter(moto_server, clock, per_minute=2, per_day=10_000)
    with shared.until(clock.time() + 30):
        shared.acquire()
        shared.acquire()
        with pytest.raises(PermitAfterDeadline) as caught:
            shared.acquire()
    assert clock.slept == []
    assert caught.value.retry_at == NOON + 9 * 86400 - 5 + 60
    with shared.until(clock.time() + 58):  # the next minute starts before this deadline: wait
        shared.acquire()
    assert len(clock.slept) == 1 and shared.deadline is None
