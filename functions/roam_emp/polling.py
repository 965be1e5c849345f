"""Waiting for something asynchronous to happen (queues, callbacks, schedules, a partner's action)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], seconds: float = 30, interval: float = 0.2) -> T:
    """The first truthy value of ``condition()``; TimeoutError when none comes in time."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {seconds} s")
        time.sleep(interval)
