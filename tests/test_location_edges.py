"""Issue 10, Locations: the edges of pulls (pending full pulls, wedged smart_paging cursors,
malformed optional parts, tariff versions, publish and REMOVED EVSEs), against the simulator."""

from __future__ import annotations

from typing import Any

from roam_emp.store.pull_state import PullMode

from .test_locations import Local, cached_ids, fresh, pull_until_done, puller, sim_ids, sim_post

__all__ = ["fresh"]  # the fixture, shared with test_locations


def test_malformed_optional_parts_keep_the_location(fresh: Local) -> None:
    """Lenient per location, not per page: 30 of 50 locations with malformed optional parts are
    all stored, as received, and each defect is counted."""
    rt, sim = fresh
    sim_post(sim, "locations/reset", {"size": 50, "pull_min_interval_s": 0})
    ids = sorted(sim_ids(sim))
    defects: dict[str, str] = sim_post(sim, "locations/defects", {"ids": ids[:30]})
    assert len(set(defects.values())) == 4
    outcome = pull_until_done(puller(), PullMode.FULL)[-1]
    assert outcome.run is not None
    assert (outcome.run.locations, outcome.run.created, outcome.run.rejected) == (50, 50, 0)
    assert cached_ids(rt) == set(ids)
    assert outcome.deviations.by_kind()["malformed_optional"] >= 30
    for location_id, kind in defects.items():
        stored: dict[str, Any] = rt.admin("GET", f"/admin/locations/{location_id}").json()["data"]
        served = sim.state.network.locations[location_id]
        if kind == "connectors":
            assert stored["evses"][0]["connectors"] is None  # what we received, not a repaired copy
        else:
            assert stored[kind] == served[kind]
