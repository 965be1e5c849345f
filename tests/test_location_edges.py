"""Issue 10, Locations: the edges of pulls (pending full pulls, wedged smart_paging cursors,
malformed optional parts, tariff versions, publish and REMOVED EVSEs), against the simulator."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.domain.location_pull import MAX_FAILED_RESUMPTIONS
from roam_emp.handlers import location_pull
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.timestamps import format_timestamp
from roam_emp.polling import wait_for
from roam_emp.store import aws
from roam_emp.store.locations import canonical_hash
from roam_emp.store.pull_state import PullMode, PullStateStore, RunStatus

from .helpers import events_in, events_seen
from .test_locations import FOREVER, Local, cached_ids, fresh, pull_until_done, puller, sim_ids, sim_post

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


def pending(rt: LocalRuntime) -> bool:
    return PullStateStore(rt.env[topology.STATE_TABLE.env_var]).full_pending()


def test_a_full_pull_refused_as_too_soon_runs_at_the_next_delta(fresh: Local) -> None:
    rt, _ = fresh
    pull_until_done(puller(), PullMode.FULL)
    assert (
        puller(location_pull_min_interval_s=3600).run(PullMode.FULL, time_left_s=FOREVER).status == "too_soon"
    )
    assert pending(rt)
    outcome = puller().run(PullMode.DELTA, time_left_s=FOREVER)  # the next scheduled delta
    assert outcome.status == "completed"
    assert outcome.run is not None and outcome.run.mode is PullMode.FULL
    assert not pending(rt)
    later = puller().run(PullMode.DELTA, time_left_s=FOREVER)
    assert later.run is not None and later.run.mode is PullMode.DELTA  # owed once, run once


def test_a_full_pull_refused_as_busy_is_not_dropped(fresh: Local) -> None:
    rt, _ = fresh
    pull_until_done(puller(), PullMode.FULL)
    store = PullStateStore(rt.env[topology.STATE_TABLE.env_var])
    assert store.acquire("a-delta-in-flight", ttl_s=60)
    assert puller().run(PullMode.FULL, time_left_s=FOREVER).status == "busy"
    store.release("a-delta-in-flight")
    outcome = puller().run(PullMode.DELTA, time_left_s=FOREVER)
    assert outcome.run is not None and outcome.run.mode is PullMode.FULL


def test_a_full_pull_during_a_delta_run_follows_it(fresh: Local) -> None:
    rt, sim = fresh
    pull_until_done(puller(), PullMode.FULL)
    sim_post(sim, "locations/mutate", {"status_changes": 400})
    budget = iter([900.0, 10.0])
    paused = puller().run(PullMode.DELTA, time_left_s=lambda: next(budget))
    assert paused.status == "paused" and paused.run is not None and paused.run.mode is PullMode.DELTA
    resumed = puller().run(PullMode.FULL, time_left_s=FOREVER)
    assert resumed.run is not None and resumed.run.mode is PullMode.DELTA  # the delta finishes first
    assert pending(rt)
    owed = puller().run(PullMode.DELTA, time_left_s=FOREVER)
    assert owed.run is not None and owed.run.mode is PullMode.FULL and owed.status == "completed"


class RecordedMetrics:
    """What the handler adds, kept by the test: Powertools keeps one metric set per process
    (every Metrics instance shares it), and local mode's OutboxRelay, relaying this very pull's
    changes in a stream thread, flushes and clears it at the end of each of its invocations."""

    def __init__(self) -> None:
        self.metric_set: dict[str, dict[str, list[float]]] = {}

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.metric_set.setdefault(name, {"Value": []})["Value"].append(value)


def own_metrics(monkeypatch: pytest.MonkeyPatch) -> RecordedMetrics:
    mine = RecordedMetrics()
    monkeypatch.setattr(location_pull, "metrics", mine)
    return mine


def test_full_pull_age_is_published(fresh: Local, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _ = fresh
    metrics = own_metrics(monkeypatch)
    outcome = pull_until_done(puller(), PullMode.FULL)[-1]
    location_pull.record(outcome)
    age = metrics.metric_set["LocationFullPullAgeSeconds"]["Value"]
    assert 0 <= age[0] < 600


def test_a_dead_smart_paging_cursor_fails_the_run_and_a_fresh_one_completes(fresh: Local) -> None:
    rt, sim = fresh
    budget = iter([900.0, 10.0])
    paused = puller().run(PullMode.FULL, time_left_s=lambda: next(budget))
    assert paused.status == "paused" and paused.run is not None and paused.run.next_url
    sim_post(sim, "locations/expire_cursors")  # Plugsurfing no longer accepts the Link URL
    failed = puller().run(PullMode.DELTA, time_left_s=FOREVER)
    assert failed.status == "failed", failed.summary()
    checkpoint = PullStateStore(rt.env[topology.STATE_TABLE.env_var]).run()
    assert checkpoint is not None and checkpoint.status is RunStatus.FAILED
    assert pending(rt)  # the failed full pull is still owed
    fresh_run = puller().run(PullMode.DELTA, time_left_s=FOREVER)
    assert fresh_run.status == "completed" and fresh_run.run is not None
    assert fresh_run.run.mode is PullMode.FULL and fresh_run.run.run_id != paused.run.run_id
    assert cached_ids(rt) == sim_ids(sim)


def test_repeated_failures_of_a_next_page_give_the_run_up(fresh: Local) -> None:
    _, sim = fresh
    budget = iter([900.0, 10.0])
    puller().run(PullMode.FULL, time_left_s=lambda: next(budget))
    sim_post(sim, "chaos", {"route": "GET /ocpi/cpo/2.2.1/locations", "fail_next": [503] * 200})
    statuses = [
        puller().run(PullMode.FULL, time_left_s=FOREVER).status for _ in range(MAX_FAILED_RESUMPTIONS)
    ]
    sim_post(sim, "chaos", {})
    assert statuses == ["interrupted"] * (MAX_FAILED_RESUMPTIONS - 1) + ["failed"]


def test_admin_reset_closes_the_run(fresh: Local) -> None:
    """`roam-emp locations reset` (POST /admin/locations/pull/reset) closes a wedged run."""
    from roam_emp.cli import main

    rt, _ = fresh
    budget = iter([900.0, 10.0])
    paused = puller().run(PullMode.FULL, time_left_s=lambda: next(budget))
    assert paused.run is not None
    assert main(["locations", "reset", "--api", rt.url]) == 0
    store = PullStateStore(rt.env[topology.STATE_TABLE.env_var])
    closed = wait_for(lambda: (r := store.run()) is not None and r.status is RunStatus.FAILED and r, 60)
    assert closed.run_id == paused.run.run_id and "reset" in (closed.last_error or "")


def test_unpublished_locations_are_hidden_and_removed_evses_not_counted(fresh: Local) -> None:
    rt, sim = fresh
    sim_post(sim, "locations/reset", {"size": 40, "pull_min_interval_s": 0})
    network = sim.state.network
    with network.lock:
        hidden, reduced = network.locations["LOC0000001"], network.locations["LOC0000002"]
        hidden["publish"] = False
        hidden["publish_allowed_to"] = [{"visual_number": "NL-EMP-C00000001", "issuer": "EMP"}]
        reduced["evses"][0]["status"] = "REMOVED"
        removed_uid, evse_count = reduced["evses"][0]["uid"], len(reduced["evses"])
        countries = {hidden["country"], reduced["country"]}
    mark = events_seen(rt.events_out)
    pull_until_done(puller(), PullMode.FULL)

    def listed(include: bool) -> dict[str, dict[str, Any]]:
        summaries: dict[str, dict[str, Any]] = {}
        for country in countries:
            query = f"/admin/locations?country={country}&limit=500" + (
                "&include_unpublished=true" if include else ""
            )
            summaries.update({s["id"]: s for s in rt.admin("GET", query).json()["data"]["locations"]})
        return summaries

    assert "LOC0000001" not in listed(False)
    everything = listed(True)
    assert everything["LOC0000001"]["publish"] is False
    assert everything["LOC0000001"]["publish_allowed_to"] == hidden["publish_allowed_to"]
    assert everything["LOC0000003"]["publish"] is True
    assert sum(everything["LOC0000002"]["evses"].values()) == evse_count - 1
    assert "REMOVED" not in everything["LOC0000002"]["evses"]
    assert rt.admin("GET", "/admin/locations/LOC0000001").status_code == 404
    shown = rt.admin("GET", "/admin/locations/LOC0000001?include_unpublished=true")
    assert shown.status_code == 200 and shown.json()["data"]["publish"] is False

    def upserted(location_id: str, this_pull: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        # The relay is asynchronous: an earlier test's pull of the same id (another network) may
        # still be announced after the mark, so the event of this pull is the one showing its
        # change (a failure is a timeout, not a wrong first match).
        return wait_for(
            lambda: next(
                (
                    e
                    for e in events_in(rt.events_out, "LocationUpserted", since=mark)
                    if e["location_id"] == location_id and this_pull(e)
                ),
                None,
            ),
            300,
        )

    event = upserted("LOC0000002", lambda e: bool(e["removed_evses"]))
    assert event["removed_evses"] == [removed_uid] and removed_uid not in event["evse_statuses"]
    unpublished = upserted("LOC0000001", lambda e: e["publish"] is False)
    assert unpublished["publish_allowed_to"] == hidden["publish_allowed_to"]


def test_a_changed_tariff_body_is_kept_as_a_version_and_announced(
    fresh: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAQ "How should partners treat tariff IDs?": immutable. A different body under a known id
    is kept as a version, announced once, and an older one never replaces a newer one."""
    rt, sim = fresh
    sim_post(sim, "locations/reset", {"size": 40, "pull_min_interval_s": 0})
    pull_until_done(puller(), PullMode.FULL)
    network = sim.state.network
    tariff_id = network.locations["LOC0000001"]["evses"][0]["connectors"][0]["tariff_ids"][0]
    original = copy.deepcopy(network.tariffs[tariff_id])
    mark = events_seen(rt.events_out)

    def price() -> float:
        location = rt.admin("GET", "/admin/locations/LOC0000001").json()["data"]
        return float(
            location["evses"][0]["connectors"][0]["tariffs"][0]["elements"][0]["price_components"][0]["price"]
        )

    def reprice(value: float, last_updated: str) -> None:
        with network.lock:  # in place: every connector inlines this very dict
            tariff = network.tariffs[tariff_id]
            tariff["elements"][0]["price_components"][0]["price"] = value
            tariff["last_updated"] = last_updated

    reprice(0.99, format_timestamp(network.tick()))
    metrics = own_metrics(monkeypatch)
    newer = pull_until_done(puller(), PullMode.FULL)[-1]
    assert newer.run is not None and newer.run.changed_tariffs == 1
    location_pull.record(newer)
    assert metrics.metric_set["TariffChanged"]["Value"] == [1]
    assert price() == 0.99
    reprice(0.11, original["last_updated"])  # an older body, arriving late
    older = pull_until_done(puller(), PullMode.FULL)[-1]
    assert older.run is not None and older.run.changed_tariffs == 1
    assert price() == 0.99  # never replaced by an older last_updated
    versions = aws.dynamodb().query(
        TableName=rt.env[topology.LOCATIONS_TABLE.env_var],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": {"S": f"TRF#{tariff_id}"}, ":v": {"S": "V#"}},
    )["Items"]
    assert len(versions) == 3  # original, newer, older: each kept

    def announced(kind: str) -> list[dict[str, Any]]:
        return [e for e in events_in(rt.events_out, kind, since=mark) if e["tariff_id"] == tariff_id]

    wait_for(lambda: len(announced("TariffChanged")) >= 2, 300)
    changed = announced("TariffChanged")
    assert len({e["idempotency_key"] for e in changed}) == len(changed) == 2  # one per version
    # The first pull's TariffAdded may still be arriving; none for the new versions.
    assert all(e["idempotency_key"].endswith(canonical_hash(original)) for e in announced("TariffAdded"))


def test_a_healthy_pull_publishes_only_what_is_news(fresh: Local, monkeypatch: pytest.MonkeyPatch) -> None:
    """A completed pull every 2 minutes: no LocationPull_completed or LocationPullPages (the cache
    age, Lambda's metrics and the log line say it) and no zero counts (each hour with data is a
    billed hour of a custom metric: docs/cost.md); a pull that did not complete says so."""
    from roam_emp.domain.location_pull import PullOutcome

    metrics = own_metrics(monkeypatch)
    outcome = pull_until_done(puller(), PullMode.FULL)[-1]
    assert outcome.status == "completed" and outcome.run is not None and outcome.run.created > 0
    location_pull.record(outcome)
    assert metrics.metric_set["LocationsCreated"]["Value"] == [outcome.run.created]
    assert "LocationCacheAgeSeconds" in metrics.metric_set
    silent = {"LocationPull_completed", "LocationPullPages", "LocationsUpdated", "LocationsRemoved"}
    assert not silent & set(metrics.metric_set), metrics.metric_set
    assert all(v != 0 for n, m in metrics.metric_set.items() if n.startswith("Locations") for v in m["Value"])
    metrics.metric_set.clear()
    location_pull.record(PullOutcome("interrupted", outcome.run))
    assert metrics.metric_set["LocationPull_interrupted"]["Value"] == [1]
