"""Local mode wired to the simulator as every bench that needs a hub sets it up: registered with
it, and a client calling our OCPI API as Plugsurfing does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator


def register(runtime: LocalRuntime, versions_url: str, token_a: str) -> None:
    """The EMP registers with the hub at ``versions_url`` (POST /admin/registration with token A)."""
    runtime.admin(
        "POST", "/admin/registration", {"versions_url": versions_url, "token_a": token_a}
    ).raise_for_status()


def register_with(runtime: LocalRuntime, simulator: RoamSimulator) -> None:
    """The EMP registers with an in-process simulator."""
    register(runtime, simulator.versions_url, simulator.state.token_a)


def as_hub(runtime: LocalRuntime, simulator: RoamSimulator) -> httpx.Client:
    """Our OCPI API called as Plugsurfing calls it: with the token we gave the simulator."""
    from roam_emp.ocpi.auth_header import encode_token

    return httpx.Client(
        base_url=runtime.url,
        timeout=60,
        headers={"Authorization": encode_token(simulator.state.our_token_for_emp or "")},
    )
