"""`make demo`: the handshake both ways against the bundled simulator, told step by step.

Every step checks what it claims; the demo exits non-zero when one does not hold.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .. import topology
from ..config import reset as reset_settings
from ..ocpi.auth_header import encode_token
from ..simulator import RoamSimulator
from ..store.cdrs import CdrStore
from .polling import wait_for
from .runtime import LocalRuntime


@dataclass
class Step:
    title: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class Demo:
    runtime: LocalRuntime
    simulator: RoamSimulator
    steps: list[Step] = field(default_factory=list)
    out: Callable[[str], None] = print
    location_id: str = "LOC0000006"  # the agreed test location (in the simulated network)
    session_id: str = ""

    def step(self, title: str, action: Callable[[], tuple[bool, str]]) -> bool:
        started = time.perf_counter()
        try:
            ok, detail = action()
        except Exception as error:  # a demo reports every failure and goes on
            ok, detail = False, f"{type(error).__name__}: {error}"
        seconds = time.perf_counter() - started
        self.steps.append(Step(title, ok, detail, seconds))
        mark = "ok  " if ok else "FAIL"
        self.out(f"  [{mark}] {title} ({seconds * 1000:.0f} ms)\n         {detail}")
        return ok

    def sim(self, path: str, body: Any = None) -> Any:
        return httpx.post(f"{self.simulator.url}/_sim/{path}", json=body or {}, timeout=60).json()

    def call_us(self, token: str | None, path: str = "/ocpi/2.2.1/credentials") -> httpx.Response:
        headers = {"Authorization": encode_token(token)} if token else {}
        return httpx.get(f"{self.runtime.url}{path}", headers=headers, timeout=30)

    def run(self) -> bool:
        rt, sim = self.runtime, self.simulator
        self.out(f"roam-emp local mode: API {rt.url}  (moto {rt.moto.url if rt.moto else '-'})")
        self.out(f"Roam OCPI simulator (plays Plugsurfing): {sim.versions_url}\n")
        self.out("1. We register with Plugsurfing using its token A")

        def register() -> tuple[bool, str]:
            answer = rt.admin(
                "POST",
                "/admin/registration",
                {"versions_url": sim.versions_url, "token_a": sim.state.token_a},
            ).json()
            data = answer.get("data") or {}
            roles = [
                f"{r['role']} {r['country_code']}/{r['party_id']} ({r['business_details']['name']})"
                for r in data.get("hub_roles", [])
            ]
            endpoints = [f"{e['identifier']}:{e['role']}" for e in data.get("endpoints", [])]
            ok = data.get("status") == "REGISTERED" and roles == ["CPO DE/8PS (Plugsurfing)"]
            return ok, f"status {data.get('status')}, hub role {roles}, endpoints {endpoints}"

        self.step("versions -> 2.2.1 details -> POST credentials with token B -> token C stored", register)
        token_b = sim.state.our_token_for_emp

        def hub_calls_us() -> tuple[bool, str]:
            answer = self.call_us(token_b)
            roles = answer.json().get("data", {}).get("roles", [])
            return answer.status_code == 200, (
                f"GET /ocpi/2.2.1/credentials with token B -> HTTP {answer.status_code}, "
                f"our role {roles[0]['role']} {roles[0]['country_code']}/{roles[0]['party_id']}"
                if roles
                else f"HTTP {answer.status_code}"
            )

        self.step("Plugsurfing calls us with the token we gave it", hub_calls_us)

        def refuses(token: str | None, label: str) -> Callable[[], tuple[bool, str]]:
            def check() -> tuple[bool, str]:
                answer = self.call_us(token)
                return answer.status_code == 401, f"{label} -> HTTP {answer.status_code}"

            return check

        self.step("no token is refused", refuses(None, "no Authorization header"))
        self.step("token A is dead after registration", refuses(sim.state.token_a, "token A"))

        self.out("\n2. Plugsurfing rotates its credentials (PUT)")

        def rotate() -> tuple[bool, str]:
            answer = self.sim("rotate")
            new_token = sim.state.our_token_for_emp
            fresh = self.call_us(new_token).status_code
            old = self.call_us(token_b).status_code
            return (answer.get("ok") and fresh == 200 and old == 401), (
                f"new token -> HTTP {fresh}, old token -> HTTP {old}"
            )

        self.step("PUT credentials: new tokens both ways", rotate)

        self.out("\n3. Plugsurfing unregisters (DELETE), then registers with us (it initiates)")
        last_token = sim.state.our_token_for_emp

        def unregister() -> tuple[bool, str]:
            answer = self.sim("unregister")
            after = self.call_us(last_token).status_code
            return bool(answer.get("ok")) and after == 401, f"DELETE -> ok, then HTTP {after}"

        self.step("DELETE credentials: every call now gets 401", unregister)

        def hub_initiated() -> tuple[bool, str]:
            issued = rt.admin("POST", "/admin/registration/token-a").json()["data"]
            answer = self.sim(
                "register", {"token_a": issued["token_a"], "versions_url": issued["versions_url"]}
            )
            status = rt.admin("GET", "/admin/registration").json()["data"]
            ok = answer.get("ok") and status["status"] == "REGISTERED" and status["initiator"] == "HUB"
            works = self.call_us(sim.state.our_token_for_emp).status_code
            return bool(ok) and works == 200, (
                f"token A issued via admin API; Plugsurfing POSTed its credentials; "
                f"status {status['status']} (initiator {status['initiator']}); our token C -> HTTP {works}"
            )

        self.step("we issue token A, Plugsurfing registers with it", hub_initiated)

        self.out('\n4. Plugsurfing\'s stage test list (FAQ "What should partners test in stage?")')
        self.stage_test()

        self.report("stage-test-report.json")
        passed = sum(s.ok for s in self.steps)
        self.out(f"\n{passed}/{len(self.steps)} steps passed")
        return passed == len(self.steps)

    def stage_test(self) -> None:
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

    def handshake_done(self) -> tuple[bool, str]:
        status = self.runtime.admin("GET", "/admin/registration").json()["data"]
        roles = [f"{r['role']} {r['country_code']}/{r['party_id']}" for r in status.get("hub_roles", [])]
        return status["status"] == "REGISTERED" and roles == ["CPO DE/8PS"], (
            f"status {status['status']}, initiator {status.get('initiator')}, hub roles {roles}"
        )

    def disable_token(self) -> tuple[bool, str]:
        answer = self.runtime.admin("PATCH", f"/admin/tokens/{DEMO_TOKEN}?type=RFID", {"valid": False})
        key = next(k for k in self.simulator.state.tokens if k.endswith(f"/RFID/{DEMO_TOKEN}"))
        wait_for(lambda: self.simulator.state.tokens[key]["valid"] is False)
        self.runtime.admin("PATCH", f"/admin/tokens/{DEMO_TOKEN}?type=RFID", {"valid": True})
        wait_for(lambda: self.simulator.state.tokens[key]["valid"] is True)
        pushes = [e["body"]["valid"] for e in self.simulator.state.token_log if e["key"] == key]
        return pushes[-2:] == [False, True], (
            f"PATCH -> HTTP {answer.status_code}; Plugsurfing saw valid={pushes} in that order; re-enabled"
        )

    def local_start(self) -> tuple[bool, str]:
        run = self.sim(
            "sessions/run",
            {
                "token_uid": DEMO_TOKEN,
                "location_id": self.location_id,
                "patches": 2,
                "original_protocol": "OCPI-2.1.1",
            },
        )
        stored = CdrStore(
            self.runtime.env[topology.CDRS_TABLE.env_var], self.runtime.env[topology.CDR_ARCHIVE.env_var]
        ).get(run["cdr_id"])
        ok = run["session_statuses"] == [200] * 4 and run["cdr_status"] == 200 and stored is not None
        return ok, (
            f"session {run['session_id']} without a command (auth WHITELIST, X-Original-Protocol "
            f"OCPI-2.1.1): session updates {run['session_statuses']}, CDR HTTP {run['cdr_status']}"
        )

    def authorize_deny(self) -> tuple[bool, str]:
        self.runtime.admin("PATCH", f"/admin/tokens/{DEMO_TOKEN}?type=RFID", {"valid": False})
        try:
            answer = self.sim(
                "authorize", {"uid": DEMO_TOKEN, "type": "RFID", "location_id": self.location_id}
            )
            info = answer["body"]["data"]
            unknown = self.sim("authorize", {"uid": "NEVER-PUSHED"})
        finally:
            self.runtime.admin("PATCH", f"/admin/tokens/{DEMO_TOKEN}?type=RFID", {"valid": True})
        ok = info["allowed"] == "BLOCKED" and unknown["body"]["status_code"] == 2004
        return ok, (
            f"disabled token -> {info['allowed']} ({info['info']['text']}); unknown token -> "
            f"HTTP {unknown['status']} / {unknown['body']['status_code']}"
        )

    def authorize_timeout(self) -> tuple[bool, str]:
        with (
            SlowHook(delay_s=3.0) as hook,
            overridden_env(
                {
                    "AUTH_HOOK_TARGET": hook.url,
                    "AUTH_HOOK_BUDGET_MS": "300",
                    "AUTH_HOOK_FALLBACK": "NOT_ALLOWED",
                }
            ),
        ):
            answer = self.sim(
                "authorize", {"uid": DEMO_TOKEN, "type": "RFID", "location_id": self.location_id}
            )
        info = answer["body"]["data"]
        return info["allowed"] == "NOT_ALLOWED" and answer["seconds"] < 2.0, (
            f"hook sleeps 3 s, budget 300 ms: {info['allowed']} ({info['info']['text']}) in "
            f"{answer['seconds'] * 1000:.0f} ms"
        )

    def report(self, path: str | None) -> None:
        width = max(len(s.title) for s in self.steps)
        self.out(f"\n{'step':<{width}}  result  duration  evidence")
        for s in self.steps:
            self.out(
                f"{s.title:<{width}}  {'PASS' if s.ok else 'FAIL':<6}  {s.seconds:>6.2f} s  {s.detail[:110]}"
            )
        if path:
            Path(path).write_text(
                json.dumps(
                    {
                        "target": {"api": self.runtime.url, "hub": self.simulator.versions_url},
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
                    },
                    indent=2,
                )
                + "\n"
            )
            self.out(f"\nreport written to {path}")

    def _pull(self, mode: str) -> dict[str, Any]:
        before = len(
            self.runtime.admin("GET", "/admin/locations/pull").json()["data"]["sync"]["completed_runs"]
        )
        accepted = self.runtime.admin("POST", "/admin/locations/pull", {"mode": mode})
        if accepted.status_code != 202:
            raise RuntimeError(f"pull not accepted: HTTP {accepted.status_code}")
        deadline = time.time() + 120
        while time.time() < deadline:
            status = self.runtime.admin("GET", "/admin/locations/pull").json()["data"]
            runs = status["sync"]["completed_runs"]
            if len(runs) > before:
                return runs[0]  # type: ignore[no-any-return]
            time.sleep(0.25)
        raise TimeoutError(f"{mode} pull did not complete in 120 s")

    def full_pull(self) -> tuple[bool, str]:
        run = self._pull("full")
        total = len(self.simulator.state.network.locations)
        return run["created"] + run["unchanged"] + run["updated"] == total, (
            f"{run['pages']} pages, {run['created']} locations created, {run['new_tariffs']} tariffs "
            f"stored once each, simulator network {total}"
        )

    def delta_pull(self) -> tuple[bool, str]:
        changes = self.sim("locations/mutate", {"status_changes": 5, "new": 1, "tariff_changes": 2})
        run = self._pull("delta")
        sample = changes["tariff_changed"][0]
        location = self.runtime.admin("GET", f"/admin/locations/{sample}").json()["data"]
        tariff = location["evses"][0]["connectors"][0]["tariffs"][0]["id"]
        ok = run["mode"] == "delta" and run["created"] == 1 and run["updated"] >= 7
        return ok, (
            f"{run['pages']} page(s) since {run['date_from']}: {run['created']} new, "
            f"{run['updated']} updated; {sample} now inlines tariff {tariff}"
        )

    def push_token(self) -> tuple[bool, str]:
        answer = self.runtime.admin(
            "POST",
            "/admin/tokens",
            {
                "uid": DEMO_TOKEN,
                "type": "RFID",
                "contract_id": "NLEMPD00000042",
                "visual_number": "NL-EMP-D00000042",
            },
        )
        state = wait_for(
            lambda: (
                (s := self.runtime.admin("GET", f"/admin/tokens/{DEMO_TOKEN}?type=RFID").json()["data"])[
                    "push_state"
                ]
                != "QUEUED"
                and s
            )
        )
        at_hub = any(k.endswith(f"/RFID/{DEMO_TOKEN}") for k in self.simulator.state.tokens)
        return state["push_state"] == "PUSHED" and at_hub, (
            f"POST /admin/tokens -> HTTP {answer.status_code}; push state {state['push_state']}; "
            f"Plugsurfing has it: {at_hub}"
        )

    def authorize(self) -> tuple[bool, str]:
        answer = self.sim("authorize", {"uid": DEMO_TOKEN, "type": "RFID", "location_id": self.location_id})
        info = answer["body"]["data"]
        return info["allowed"] == "ALLOWED", (
            f"{info['allowed']} ({info['info']['text']}), reference {info['authorization_reference']}, "
            f"answered in {answer['seconds'] * 1000:.0f} ms"
        )

    def remote_session(self) -> tuple[bool, str]:
        start = self.runtime.admin(
            "POST",
            "/admin/commands/START_SESSION",
            {"token_uid": DEMO_TOKEN, "location_id": self.location_id},
        ).json()["data"]
        wait_for(
            lambda: (
                self.runtime.admin("GET", f"/admin/commands/{start['command_id']}")
                .json()["data"]
                .get("result")
            )
        )
        self.session_id = str(
            wait_for(lambda: next(iter(httpx.get(f"{self.simulator.url}/_sim/sessions/active").json()), None))
        )
        stop = self.runtime.admin("POST", "/admin/commands/STOP_SESSION", {"session_id": self.session_id})
        stopped = wait_for(
            lambda: (
                self.runtime.admin("GET", f"/admin/commands/{stop.json()['data']['command_id']}")
                .json()["data"]
                .get("result")
            )
        )
        return stopped == {"result": "ACCEPTED"}, (
            f"START {start['state']} (timeout {start['response']['timeout']} s), session {self.session_id}, "
            f"STOP result {stopped['result']}"
        )

    def cdr(self) -> tuple[bool, str]:
        headers = {"Authorization": encode_token(self.simulator.state.our_token_for_emp or "")}
        url = f"{self.runtime.url}/ocpi/2.2.1/cdrs/{self.session_id}"
        wait_for(lambda: httpx.get(url, headers=headers).status_code == 200)
        cdr = httpx.get(url, headers=headers).json()["data"]
        stored = CdrStore(
            self.runtime.env[topology.CDRS_TABLE.env_var], self.runtime.env[topology.CDR_ARCHIVE.env_var]
        ).get(cdr["id"])
        facts = stored["facts"] if stored else {}
        check = facts.get("cost_check", {})
        return check.get("status") == "OK" and facts.get("session_linked") is True, (
            f"CDR {cdr['id']}: {cdr['total_energy']} kWh, {cdr['total_cost']['excl_vat']} {cdr['currency']} "
            f"excl. VAT, recomputed {check.get('computed_excl_vat')}: {check.get('status')}; token matched "
            f"by {facts.get('token_match', {}).get('method')}; body archived in S3"
        )


DEMO_TOKEN = "04DEM0C0FFEE42"


class SlowHook:
    """An EMP credit-check hook that answers too late (for the timeout/failure stage step)."""

    def __init__(self, delay_s: float) -> None:
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Response

        def app(environ: Any, start_response: Any) -> Any:
            time.sleep(delay_s)
            return Response('{"allowed": "ALLOWED"}', content_type="application/json")(
                environ, start_response
            )

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/decide"

    def __enter__(self) -> SlowHook:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()


@contextmanager
def overridden_env(values: dict[str, str]) -> Iterator[None]:
    """Local mode only: change the handlers' configuration for one step."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    reset_settings()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


def run_stage_test(report: str | None = "stage-test-report.json", port: int = 0) -> bool:
    """`roam-emp stage-test`: register with the simulator, then the FAQ's stage list."""
    demo_env = {"LOCATION_PULL_MIN_INTERVAL_S": "0"}
    with (
        LocalRuntime(port=port, log_level="ERROR", schedules=False, extra_env=demo_env) as runtime,
        RoamSimulator() as simulator,
    ):
        simulator.state.pull_min_interval_s = 0
        test = Demo(runtime, simulator)
        test.out(
            f"stage test: roam-emp {runtime.url} against the Roam OCPI simulator {simulator.versions_url}"
        )
        runtime.admin(
            "POST",
            "/admin/registration",
            {"versions_url": simulator.versions_url, "token_a": simulator.state.token_a},
        )
        test.stage_test()
        test.report(report)
        return all(s.ok for s in test.steps)


def run_demo(port: int = 0) -> bool:
    # The demo compresses time: pulls may follow each other at once (in AWS: at most one new
    # Location pull per minute, the FAQ's soft limit, which the simulator enforces by default).
    demo_env = {"LOCATION_PULL_MIN_INTERVAL_S": "0"}
    with (
        LocalRuntime(port=port, log_level="ERROR", schedules=False, extra_env=demo_env) as runtime,
        RoamSimulator() as simulator,
    ):
        simulator.state.pull_min_interval_s = 0
        return Demo(runtime, simulator).run()
