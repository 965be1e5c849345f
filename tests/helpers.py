"""Test helpers importable from every test module."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator.server import RoamSimulator

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "ocpi-2.2.1-examples"


def example(name: str) -> Any:
    """An official OCPI 2.2.1 example payload from ../shared (CI has it too)."""
    return json.loads((EXAMPLES / name).read_text())


def events_seen(path: str | None) -> int:
    """How many events reached the bus so far (a mark for ``events_in(..., since=)``)."""
    return len(Path(path).read_text().splitlines()) if path and Path(path).exists() else 0


def events_in(path: str | None, detail_type: str, since: int = 0) -> list[dict[str, Any]]:
    """The details of the events of one type that reached the bus (local mode's events_out)."""
    if not path or not Path(path).exists():
        return []
    found = []
    for line in Path(path).read_text().splitlines()[since:]:
        event = json.loads(line)
        if event.get("detail-type") == detail_type:
            found.append(event["detail"])
    return found


def published(
    path: str | None, detail_type: str, match: Callable[[dict[str, Any]], bool], seconds: float = 60
) -> dict[str, Any]:
    """Wait for an event of ``detail_type`` whose detail satisfies ``match``."""
    from roam_emp.polling import wait_for

    return wait_for(lambda: next((d for d in events_in(path, detail_type) if match(d)), None), seconds)


def register(rt: LocalRuntime, sim: RoamSimulator) -> httpx.Response:
    """Local mode registers with the simulator (POST /admin/registration with its token A)."""
    return rt.admin(
        "POST", "/admin/registration", {"versions_url": sim.versions_url, "token_a": sim.state.token_a}
    )


def calm_and_registered(rt: LocalRuntime, sim: RoamSimulator) -> None:
    """No chaos left over from an earlier test, and registered with the simulator."""
    import httpx

    httpx.post(f"{sim.url}/_sim/chaos", json={}, timeout=30).raise_for_status()
    if not sim.state.registered:
        register(rt, sim).raise_for_status()
