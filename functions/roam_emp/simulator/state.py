"""What the simulated Plugsurfing knows and how it misbehaves on request."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .network import Network

PLUGSURFING_ROLE = {
    "role": "CPO",
    "party_id": "8PS",
    "country_code": "DE",
    "business_details": {"name": "Plugsurfing", "website": "https://www.plugsurfing.com"},
}


@dataclass
class Chaos:
    """Failure injection: probabilities per request and a queue of forced HTTP statuses."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    forced: deque[int] = field(default_factory=deque)
    # Forced statuses for one request path only ("POST /ocpi/2.2.1/credentials").
    forced_by_route: dict[str, deque[int]] = field(default_factory=dict)

    def next_failure(self, rng: random.Random, route: str = "") -> int | None:
        by_route = self.forced_by_route.get(route)
        if by_route:
            return by_route.popleft()
        if self.forced:
            return self.forced.popleft()
        if self.rate_429 and rng.random() < self.rate_429:
            return 429
        if self.rate_5xx and rng.random() < self.rate_5xx:
            return 503
        return None


@dataclass
class SimulatorState:
    # The token A Plugsurfing hands an EMP out of band (EMP-initiated registration).
    token_a: str = field(default_factory=lambda: "sim-token-a-" + secrets.token_hex(8))
    # Token the EMP presents to us after registration (our token C, or the EMP's token B...).
    emp_token_for_us: str | None = None
    # Token we present to the EMP, its versions URL and its endpoints.
    our_token_for_emp: str | None = None
    emp_versions_url: str | None = None
    emp_endpoints: list[dict[str, Any]] = field(default_factory=list)
    emp_roles: list[dict[str, Any]] = field(default_factory=list)
    # The role our version details give our credentials endpoint: any role is valid there (the
    # spec's own example says RECEIVER; version_information_endpoint.asciidoc: disregard it).
    credentials_role: str = "SENDER"
    per_minute: int = 3000
    chaos: Chaos = field(default_factory=Chaos)
    requests: list[dict[str, Any]] = field(default_factory=list)
    minute_counts: dict[int, int] = field(default_factory=dict)
    rejected_429: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    network_size: int = 3000
    _network: Network | None = None
    # FAQ: a new Location pull at most once a minute (pagination excluded), never in parallel.
    pull_min_interval_s: float = 60.0
    last_pull_started: float = 0.0
    soft_limit_violations: int = 0
    pages_in_flight: int = 0
    parallel_violations: int = 0
    # Tokens pushed by the EMP ("cc/pid/type/uid" -> token) and every push in arrival order.
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_log: list[dict[str, Any]] = field(default_factory=list)
    # CDRs the EMP did not acknowledge with HTTP 200 (id -> (cdr, X-Original-Protocol)).
    unacknowledged_cdrs: dict[str, tuple[dict[str, Any], str | None]] = field(default_factory=dict)
    acknowledged_cdrs: int = 0
    active_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Commands: send CommandResults back (False plays a CPO that never answers: TIMEOUT).
    command_callbacks: bool = True
    command_timeout_s: int | None = 30  # None: ACCEPTED without a timeout (a CPO's spec breach)
    command_result: str = "ACCEPTED"  # the CommandResult's result
    # True: the CommandResult is posted *before* the CommandResponse is answered (a fast CPO
    # racing the EMP's own write of the response).
    command_result_first: bool = False
    commands: list[dict[str, Any]] = field(default_factory=list)

    @property
    def network(self) -> Network:
        with self.lock:
            if self._network is None:
                self._network = Network(size=self.network_size)
            return self._network

    def reset_network(self, size: int, seed: int = 1) -> Network:
        with self.lock:
            self.network_size = size
            self._network = Network(size=size, seed=seed)
            return self._network

    @property
    def registered(self) -> bool:
        return self.emp_token_for_us is not None

    def count_request(self, now: float | None = None) -> bool:
        """Plugsurfing's per-clock-minute budget; False means answer 429 (no Retry-After)."""
        minute = int((now or time.time()) // 60)
        with self.lock:
            used = self.minute_counts.get(minute, 0)
            if used >= self.per_minute:
                self.rejected_429 += 1
                return False
            self.minute_counts[minute] = used + 1
            return True

    def endpoint(self, identifier: str, role: str) -> str | None:
        return next(
            (
                e["url"]
                for e in self.emp_endpoints
                if e.get("identifier") == identifier and e.get("role") == role
            ),
            None,
        )

    def public(self) -> dict[str, Any]:
        """State as JSON for /_sim/state (it is a simulator: tokens are shown on purpose)."""
        with self.lock:
            return {
                "token_a": self.token_a,
                "registered": self.registered,
                "emp_token_for_us": self.emp_token_for_us,
                "our_token_for_emp": self.our_token_for_emp,
                "emp_versions_url": self.emp_versions_url,
                "emp_endpoints": self.emp_endpoints,
                "emp_roles": self.emp_roles,
                "per_minute": self.per_minute,
                "rejected_429": self.rejected_429,
                "soft_limit_violations": self.soft_limit_violations,
                "parallel_violations": self.parallel_violations,
                "requests": len(self.requests),
            }
