"""Plugsurfing's side of the stage test.

- ``SimulatedHub``: the bundled simulator, told what to do through its ``/_sim`` controls, and
  looked into to confirm what arrived.
- ``PlugsurfingStage``: Plugsurfing's real stage environment. What Plugsurfing drives (authorize
  requests, the local-start simulation, session pushes after our START) cannot be triggered from
  here: the operator is asked to have it done (the FAQ's stage test is run together with
  Plugsurfing's integration team) and the step waits for the evidence to show up in our store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ..polling import wait_for
from .steps import StageContext

# Plugsurfing's real-time authorization timeout is configurable from 1 to 10 s (FAQ): an answer
# must come well inside the smallest.
AUTHORIZE_DEADLINE_MS = 1000.0


class HubSide(Protocol):
    patience_s: float
    acceptable_cost_checks: frozenset[str]

    def location_count(self) -> int | None: ...
    def change_locations(self) -> dict[str, Any] | None: ...
    def holds_token(self, uid: str) -> bool | None: ...
    def validity_seen(self, uid: str) -> list[bool] | None: ...
    def session_started(self, test: StageContext, known: set[str]) -> str: ...
    def local_start(self, test: StageContext) -> str: ...
    def authorize(self, test: StageContext, location_id: str) -> dict[str, Any]: ...
    def authorize_unknown(self) -> int | None: ...
    def slow_hook_fallback(self, test: StageContext) -> tuple[bool, str]: ...


def _decision(info: dict[str, Any], reference: str | None, ms: float) -> dict[str, Any]:
    return {
        "allowed": info.get("allowed"),
        "text": (info.get("info") or {}).get("text") or info.get("reason"),
        "reference": reference,
        "ms": ms,
    }


@dataclass
class SimulatedHub:
    """The bundled Roam OCPI simulator."""

    url: str
    tokens: Callable[[], dict[str, Any]]  # the simulator's received tokens, by key
    token_log: Callable[[], list[dict[str, Any]]]
    network_size: Callable[[], int]
    # Local mode only: change the handlers' configuration for one step (a slow EMP hook).
    slow_hook: Callable[[], Any] | None = None
    patience_s: float = 30.0
    acceptable_cost_checks: frozenset[str] = frozenset({"OK"})

    def sim(self, path: str, body: Any = None) -> Any:
        return httpx.post(f"{self.url}/_sim/{path}", json=body or {}, timeout=60).json()

    def location_count(self) -> int | None:
        return self.network_size()

    def change_locations(self) -> dict[str, Any] | None:
        changes = self.sim("locations/mutate", {"status_changes": 5, "new": 1, "tariff_changes": 2})
        # 5 status changes + 2 tariff changes touch at least 7 locations (some may coincide).
        return {"new": 1, "updated": 7, "tariff_changed": changes["tariff_changed"]}

    def _key(self, uid: str) -> str | None:
        return next((k for k in self.tokens() if k.endswith(f"/RFID/{uid}")), None)

    def holds_token(self, uid: str) -> bool | None:
        return self._key(uid) is not None

    def validity_seen(self, uid: str) -> list[bool] | None:
        key = self._key(uid)
        return [e["body"]["valid"] for e in self.token_log() if e["key"] == key]

    def session_started(self, test: StageContext, known: set[str]) -> str:
        return str(wait_for(lambda: next(iter(httpx.get(f"{self.url}/_sim/sessions/active").json()), None)))

    def local_start(self, test: StageContext) -> str:
        run = self.sim(
            "sessions/run",
            {
                "token_uid": test.ids.token_uid,
                "location_id": test.ids.location_id,
                "patches": 2,
                "original_protocol": "OCPI-2.1.1",
            },
        )
        if run["session_statuses"] != [200] * 4 or run["cdr_status"] != 200:
            raise RuntimeError(
                f"we did not take it all: sessions {run['session_statuses']}, CDR {run['cdr_status']}"
            )
        return str(run["session_id"])

    def authorize(self, test: StageContext, location_id: str) -> dict[str, Any]:
        answer = self.sim(
            "authorize", {"uid": test.ids.token_uid, "type": "RFID", "location_id": location_id}
        )
        info = answer["body"]["data"]
        return _decision(info, info.get("authorization_reference"), answer["seconds"] * 1000)

    def authorize_unknown(self) -> int | None:
        return int(self.sim("authorize", {"uid": "NEVER-PUSHED"})["body"]["status_code"])

    def slow_hook_fallback(self, test: StageContext) -> tuple[bool, str]:
        if self.slow_hook is None:
            raise RuntimeError("no slow hook available for this target")
        with self.slow_hook():
            decision = self.authorize(test, test.ids.location_id)
        return decision["allowed"] == "NOT_ALLOWED" and decision["ms"] < 2000, (
            f"hook sleeps 3 s, budget 300 ms: {decision['allowed']} ({decision['text']}) in "
            f"{decision['ms']:.0f} ms"
        )


@dataclass
class PlugsurfingStage:
    """Plugsurfing's stage environment: ask, then wait for the evidence in our own store."""

    ask: Callable[[str], None] = print
    patience_s: float = 600.0
    # A real CPO's CDR may legitimately differ from our recomputation: reported, not failed.
    acceptable_cost_checks: frozenset[str] = frozenset({"OK", "DISCREPANCY", "UNCHECKABLE"})
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def location_count(self) -> int | None:
        return None

    def change_locations(self) -> dict[str, Any] | None:
        return None  # whatever changed at Plugsurfing since the full pull

    def holds_token(self, uid: str) -> bool | None:
        return None  # PUSHED means Plugsurfing answered 1000

    def validity_seen(self, uid: str) -> list[bool] | None:
        return None

    def _new_session(self, test: StageContext, known: set[str]) -> str:
        """Evidence is a session of the test token we did not hold before the step (the CPO's
        own timestamps can be skewed or backdated, so they prove nothing)."""

        def new_one() -> str | None:
            ids = [s["session_id"] for s in test.token_evidence().get("recent_sessions", [])]
            return next((i for i in ids if i not in known), None)

        return wait_for(new_one, seconds=self.patience_s, interval=3)

    def session_started(self, test: StageContext, known: set[str]) -> str:
        return self._new_session(test, known)

    def local_start(self, test: StageContext) -> str:
        known = test.known_sessions()
        self.ask(
            f"  -> Ask Plugsurfing to simulate a local start with token {test.ids.token_uid} at location "
            f"{test.ids.location_id} (waiting up to {self.patience_s:.0f} s for the session)"
        )
        return self._new_session(test, known)

    def authorize(self, test: StageContext, location_id: str) -> dict[str, Any]:
        known = {d["authorization_reference"] for d in test.token_evidence().get("recent_authorizations", [])}
        self.ask(
            f"  -> Ask Plugsurfing to send a real-time authorization for token {test.ids.token_uid} at "
            f"location {location_id} (waiting up to {self.patience_s:.0f} s)"
        )

        def recorded() -> dict[str, Any] | None:
            decisions = test.token_evidence().get("recent_authorizations", [])
            return next((d for d in decisions if d["authorization_reference"] not in known), None)

        decision = wait_for(recorded, seconds=self.patience_s, interval=2)
        self.decisions.append(decision)
        return _decision(decision, decision.get("authorization_reference"), float(decision["latency_ms"]))

    def authorize_unknown(self) -> int | None:
        return None  # Plugsurfing only asks about tokens we pushed

    def slow_hook_fallback(self, test: StageContext) -> tuple[bool, str]:
        """A deployed stack's hook cannot be slowed from here: the evidence is how fast every
        decision of this run was answered, against Plugsurfing's smallest timeout."""
        if not self.decisions:
            return False, "no authorization decision was recorded in this run"
        slowest = max(float(d["latency_ms"]) for d in self.decisions)
        return slowest < AUTHORIZE_DEADLINE_MS, (
            f"{len(self.decisions)} decision(s) this run, slowest {slowest:.0f} ms "
            f"(Plugsurfing's smallest timeout: {AUTHORIZE_DEADLINE_MS:.0f} ms); the fallback itself "
            "is proven against the simulator"
        )
