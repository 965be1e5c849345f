"""`make demo`: the handshake both ways against the bundled simulator, told step by step, then
Plugsurfing's stage test list (stage/) with the simulator playing Plugsurfing.

Every step checks what it claims; the demo exits non-zero when one does not hold.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..config import reset as reset_settings
from ..ocpi.auth_header import encode_token
from ..simulator import RoamSimulator
from ..stage import SimulatedHub, StageTest
from .runtime import LocalRuntime


@dataclass
class Demo:
    runtime: LocalRuntime
    simulator: RoamSimulator
    out: Callable[[str], None] = print
    test: StageTest = field(init=False)

    hub: SimulatedHub = field(init=False)

    def __post_init__(self) -> None:
        self.hub = simulated_hub(self.simulator)
        self.test = StageTest(self.runtime, self.hub, out=self.out)

    def step(self, title: str, action: Callable[[], tuple[bool, str]]) -> bool:
        return self.test.step(title, action)

    def target(self) -> dict[str, str]:
        return {"api": self.runtime.url, "hub": self.simulator.versions_url}

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
            answer = self.hub.sim("rotate")
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
            answer = self.hub.sim("unregister")
            after = self.call_us(last_token).status_code
            return bool(answer.get("ok")) and after == 401, f"DELETE -> ok, then HTTP {after}"

        self.step("DELETE credentials: every call now gets 401", unregister)

        def hub_initiated() -> tuple[bool, str]:
            issued = rt.admin("POST", "/admin/registration/token-a").json()["data"]
            answer = self.hub.sim(
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
        self.test.run()

        self.test.report("stage-test-report.json", self.target())
        passed = sum(s.ok for s in self.test.steps)
        self.out(f"\n{passed}/{len(self.test.steps)} steps passed")
        return passed == len(self.test.steps)


def simulated_hub(simulator: RoamSimulator) -> SimulatedHub:
    """The simulator as the stage test's Plugsurfing, with a slow EMP hook for the timeout step."""

    @contextmanager
    def slow_hook() -> Iterator[None]:
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
            yield

    return SimulatedHub(
        url=simulator.url,
        tokens=lambda: simulator.state.tokens,
        token_log=lambda: simulator.state.token_log,
        network_size=lambda: len(simulator.state.network.locations),
        slow_hook=slow_hook,
    )


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
        demo = Demo(runtime, simulator)
        demo.out(
            f"stage test: roam-emp {runtime.url} against the Roam OCPI simulator {simulator.versions_url}"
        )
        runtime.admin(
            "POST",
            "/admin/registration",
            {"versions_url": simulator.versions_url, "token_a": simulator.state.token_a},
        )
        passed = demo.test.run()
        demo.test.report(report, demo.target())
        return passed


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
