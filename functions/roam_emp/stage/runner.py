"""Plugsurfing's stage test list (FAQ "What should partners test in stage?"), step by step, against
any target: our admin API drives our side; a ``HubSide`` plays or observes Plugsurfing's side (the
bundled simulator, or Plugsurfing's real stage environment with an operator in the loop).

Every step checks what it claims and records its evidence; the run ends with a table and a JSON
report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..polling import wait_for
from .hub_side import HubSide
from .steps import AdminApi, StageIds, Step


@dataclass
class StageTest:
    api: AdminApi
    hub: HubSide
    ids: StageIds = field(default_factory=StageIds)
    out: Callable[[str], None] = print
    steps: list[Step] = field(default_factory=list)
    session_id: str = ""

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> bool:
        """Every item of the FAQ's stage test list, in its order."""
        self.step("credentials handshake: registered, Plugsurfing's role stored", self.handshake_done)
        self.step("Location full pull: every page via the Link header, into the cache", self.full_pull)
        self.step(
            "Location delta pull: status changes, a new location, a new inlined tariff", self.delta_pull
        )
        self.step("token push: through the SQS FIFO queue to Plugsurfing", self.push_token)
        self.step("token disable/update: PATCH valid=false reaches Plugsurfing in order", self.disable_token)
        self.step("remote start/stop: session PUT + kWh PATCHes, stop, CDR", self.remote_session)
        self.step("CDR: archived and stored before the 200, cost recomputed", self.cdr)
        self.step("local start with the agreed test token and location", self.local_start)
        self.step("real-time authorization: accept", self.authorize)
        self.step("real-time authorization: deny (disabled token)", self.authorize_deny)
        self.step(
            "real-time authorization: slow EMP hook answers the fallback in time", self.authorize_timeout
        )
        return all(s.ok for s in self.steps)

    def step(self, title: str, action: Callable[[], tuple[bool, str]]) -> bool:
        self.out(f"  [....] {title}")
        started = time.perf_counter()
        try:
            ok, detail = action()
        except Exception as error:  # a stage test reports every failure and goes on
            ok, detail = False, f"{type(error).__name__}: {error}"
        seconds = time.perf_counter() - started
        self.steps.append(Step(title, ok, detail, seconds))
        mark = "ok  " if ok else "FAIL"
        self.out(f"  [{mark}] {title} ({seconds * 1000:.0f} ms)\n         {detail}")
        return ok

    def report(self, path: str | None, target: dict[str, str]) -> None:
        width = max(len(s.title) for s in self.steps)
        self.out(f"\n{'step':<{width}}  result  duration  evidence")
        for s in self.steps:
            self.out(
                f"{s.title:<{width}}  {'PASS' if s.ok else 'FAIL':<6}  {s.seconds:>6.2f} s  {s.detail[:110]}"
            )
        if not path:
            return
        report = {
            "target": target,
            "passed": all(s.ok for s in self.steps),
            "steps": [
                {
                    "step": s.title,
                    "result": "PASS" if s.ok else "FAIL",
                    "seconds": round(s.seconds, 3),
                    "evidence": s.detail,
                }
                for s in self.steps
            ],
        }
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
        self.out(f"\nreport written to {path}")

    # -- helpers ---------------------------------------------------------------------------

    def data(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.api.admin(method, path, body)
        payload = answer.json()
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {answer.status_code} {payload.get('status_message')}")
        return payload.get("data")

    def token_path(self) -> str:
        return f"/admin/tokens/{self.ids.token_uid}?type=RFID"

    def token_state(self) -> dict[str, Any]:
        return self.data("GET", self.token_path())  # type: ignore[no-any-return]

    def wait_pushed(self, version_above: int = 0) -> dict[str, Any]:
        """Until Plugsurfing acknowledged the token (or a change of it) or refused it."""
        return wait_for(
            lambda: (
                (s := self.token_state())["push_state"] != "QUEUED" and s["version"] > version_above and s
            ),
            seconds=self.hub.patience_s,
        )

    def patch_token(self, changes: dict[str, Any]) -> dict[str, Any]:
        before = self.token_state()["version"]
        self.data("PATCH", self.token_path(), changes)
        return self.wait_pushed(before)

    def token_evidence(self) -> dict[str, Any]:
        """Sessions and decisions we recorded for the agreed token (support bundle, store only)."""
        return self.data("GET", f"/admin/support?token_uid={self.ids.token_uid}&type=RFID&logs=false")[  # type: ignore[no-any-return]
            "fields"
        ]

    def known_sessions(self) -> set[str]:
        return {s["session_id"] for s in self.token_evidence().get("recent_sessions", [])}

    def _pull(self, mode: str) -> dict[str, Any]:
        before = len(self.data("GET", "/admin/locations/pull")["sync"]["completed_runs"])
        self.data("POST", "/admin/locations/pull", {"mode": mode})

        def completed() -> dict[str, Any] | None:
            runs = self.data("GET", "/admin/locations/pull")["sync"]["completed_runs"]
            return runs[0] if len(runs) > before else None

        return wait_for(completed, seconds=max(120, self.hub.patience_s), interval=0.5)

    # -- the steps -------------------------------------------------------------------------

    def handshake_done(self) -> tuple[bool, str]:
        status = self.data("GET", "/admin/registration")
        roles = [f"{r['role']} {r['country_code']}/{r['party_id']}" for r in status.get("hub_roles", [])]
        return status["status"] == "REGISTERED" and "CPO DE/8PS" in roles, (
            f"status {status['status']}, initiator {status.get('initiator')}, hub roles {roles}"
        )

    def full_pull(self) -> tuple[bool, str]:
        run = self._pull("full")
        seen = run["created"] + run["unchanged"] + run["updated"]
        expected = self.hub.location_count()
        ok = seen == expected if expected is not None else run["pages"] > 0 and seen > 0
        return ok, (
            f"{run['pages']} pages, {seen} locations ({run['created']} new), {run['new_tariffs']} tariffs "
            f"stored once each" + (f", Plugsurfing's network {expected}" if expected is not None else "")
        )

    def delta_pull(self) -> tuple[bool, str]:
        changed = self.hub.change_locations()
        run = self._pull("delta")
        ok = run["mode"] == "delta" and (
            changed is None or (run["created"] == changed["new"] and run["updated"] >= changed["updated"])
        )
        detail = (
            f"{run['pages']} page(s) since {run['date_from']}: {run['created']} new, {run['updated']} updated"
        )
        if changed and changed.get("tariff_changed"):
            sample = changed["tariff_changed"][0]
            location = self.data("GET", f"/admin/locations/{sample}")
            detail += (
                f"; {sample} now inlines tariff {location['evses'][0]['connectors'][0]['tariffs'][0]['id']}"
            )
        return ok, detail

    def push_token(self) -> tuple[bool, str]:
        self.data(
            "POST",
            "/admin/tokens",
            {
                "uid": self.ids.token_uid,
                "type": "RFID",
                "contract_id": self.ids.contract_id,
                "visual_number": self.ids.contract_id,
                "valid": True,
            },
        )
        state = self.wait_pushed()
        held = self.hub.holds_token(self.ids.token_uid)
        return state["push_state"] == "PUSHED" and held is not False, (
            f"push state {state['push_state']} (version {state['version']})"
            + (f"; Plugsurfing has it: {held}" if held is not None else "; Plugsurfing answered 1000")
        )

    def disable_token(self) -> tuple[bool, str]:
        disabled = self.patch_token({"valid": False})
        enabled = self.patch_token({"valid": True})
        seen = self.hub.validity_seen(self.ids.token_uid)
        ok = disabled["push_state"] == enabled["push_state"] == "PUSHED" and (
            seen is None or seen[-2:] == [False, True]
        )
        return ok, (
            f"valid=false pushed as version {disabled['version']}, valid=true as {enabled['version']}"
            + (f"; Plugsurfing saw valid={seen} in that order" if seen is not None else "")
        )

    def remote_session(self) -> tuple[bool, str]:
        known = self.known_sessions()
        start = self.data(
            "POST",
            "/admin/commands/START_SESSION",
            {"token_uid": self.ids.token_uid, "location_id": self.ids.location_id},
        )

        def result_of(command_id: str) -> Any:
            return self.data("GET", f"/admin/commands/{command_id}").get("result")

        started = wait_for(lambda: result_of(start["command_id"]), seconds=self.hub.patience_s)
        self.session_id = self.hub.session_started(self, known)
        stop = self.data("POST", "/admin/commands/STOP_SESSION", {"session_id": self.session_id})
        stopped = wait_for(lambda: result_of(stop["command_id"]), seconds=self.hub.patience_s)
        ok = started.get("result") == "ACCEPTED" and stopped.get("result") == "ACCEPTED"
        return ok, (
            f"START {start['state']} -> result {started.get('result')}, session {self.session_id}, "
            f"STOP result {stopped.get('result')}"
        )

    def cdr(self) -> tuple[bool, str]:
        def bundle() -> dict[str, Any] | None:
            fields = self.data("GET", f"/admin/support?session_id={self.session_id}&logs=false")["fields"]
            # the CDR, with the facts its enrichment writes back after the acknowledgement
            return fields if fields.get("cdr_id") and fields.get("cdr_enrichment") == "done" else None

        fields = wait_for(bundle, seconds=self.hub.patience_s, interval=1)
        check = fields.get("cdr_cost_check") or {}
        match = fields.get("cdr_token_match") or {}
        ok = check.get("status") in self.hub.acceptable_cost_checks
        return ok, (
            f"CDR {fields['cdr_id']}: total cost {fields.get('cdr_total_cost')}, recomputed "
            f"{check.get('computed_excl_vat')} excl. VAT: {check.get('status')}; token matched by "
            f"{match.get('method')}; archived as {fields.get('cdr_archive_key')}"
        )

    def local_start(self) -> tuple[bool, str]:
        session = self.hub.local_start(self)
        fields = self.data("GET", f"/admin/support?session_id={session}&logs=false")["fields"]
        ok = fields.get("session_id") == session
        return ok, (
            f"session {session} without a command: status {fields.get('session_status')}, "
            f"X-Original-Protocol {fields.get('x_original_protocol')}, CDR {fields.get('cdr_id', 'not yet')}"
        )

    def authorize(self) -> tuple[bool, str]:
        decision = self.hub.authorize(self, self.ids.location_id)
        return decision["allowed"] == "ALLOWED", (
            f"{decision['allowed']} ({decision['text']}), reference {decision['reference']}, "
            f"answered in {decision['ms']:.0f} ms"
        )

    def authorize_deny(self) -> tuple[bool, str]:
        self.patch_token({"valid": False})
        try:
            decision = self.hub.authorize(self, self.ids.location_id)
            unknown = self.hub.authorize_unknown()
        finally:
            self.patch_token({"valid": True})
        ok = decision["allowed"] == "BLOCKED" and unknown in (None, 2004)
        return ok, (
            f"disabled token -> {decision['allowed']} ({decision['text']})"
            + (f"; unknown token -> OCPI {unknown}" if unknown is not None else "")
        )

    def authorize_timeout(self) -> tuple[bool, str]:
        return self.hub.slow_hook_fallback(self)
