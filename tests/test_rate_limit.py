"""The shared budget toward Plugsurfing: never exceeded, whatever the concurrency (FAQ: 3,000 per
clock minute, 1,000,000 per UTC day)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from roam_emp import topology
from roam_emp.hub.errors import RateBudgetExhausted
from roam_emp.hub.rate_limit import HubRateLimiter

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


def limiter(env: dict[str, str], clock: FakeClock, **kwargs: float) -> HubRateLimiter:
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
