"""Location pulls against the simulator over real HTTP, into the cache in moto's server."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bench.aws_calls import counting
from roam_emp import topology
from roam_emp.config import Settings, settings
from roam_emp.domain.location_pull import LocationPuller, PullOutcome
from roam_emp.hub.client import HubClient, RetryPolicy
from roam_emp.hub.factory import hub_client
from roam_emp.local.runtime import LocalRuntime
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store import aws
from roam_emp.store.dynamo import batch_write
from roam_emp.store.pull_state import PullMode, PullStateStore

from .helpers import events_in, events_seen, register

Local = tuple[LocalRuntime, RoamSimulator]
FOREVER: Callable[[], float] = lambda: 900.0  # noqa: E731


def sim_post(sim: RoamSimulator, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = httpx.post(f"{sim.url}/_sim/{path}", json=body or {}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def sim_ids(sim: RoamSimulator) -> set[str]:
    return set(httpx.get(f"{sim.url}/_sim/locations/ids").json())


def location_requests(sim: RoamSimulator) -> list[dict[str, Any]]:
    return [
        r for r in httpx.get(f"{sim.url}/_sim/requests").json() if r["path"] == "/ocpi/cpo/2.2.1/locations"
    ]


def _wipe(table: str, pk_prefixes: tuple[str, ...] | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "pk, sk"}
    while True:
        page = aws.dynamodb().scan(**kwargs)
        batch_write(
            table,
            deletes=[
                {"pk": i["pk"], "sk": i["sk"]}
                for i in page.get("Items", [])
                if pk_prefixes is None or i["pk"]["S"].startswith(pk_prefixes)
            ],
        )
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def fresh(local: Local) -> Iterator[Local]:
    """Registered with a fresh 600-location network, an empty cache and no pull history."""
    rt, sim = local
    sim_post(sim, "chaos", {})
    sim_post(sim, "locations/reset", {"size": 600, "pull_min_interval_s": 0})
    if not sim.state.registered:
        answer = register(rt, sim)
        assert answer.status_code == 200, answer.text
    _wipe(rt.env[topology.LOCATIONS_TABLE.env_var])
    _wipe(rt.env[topology.STATE_TABLE.env_var], ("PULL", "LEASE"))
    yield rt, sim


def fast_retries(config: Settings, token: Callable[[], str | None]) -> HubClient:
    # Real backoff, shortened: the tests exercise the retry path, not the clock.
    return hub_client(config, token, retry=RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.05))


def puller(**overrides: Any) -> LocationPuller:
    config = dataclasses.replace(settings(), **{"location_pull_min_interval_s": 0, **overrides})
    built = LocationPuller.from_settings(config)
    built.client_factory = fast_retries
    return built


def cached_ids(rt: LocalRuntime) -> set[str]:
    return puller().cache.all_ids()


def pull_until_done(p: LocationPuller, mode: PullMode, attempts: int = 30) -> list[PullOutcome]:
    outcomes = []
    for _ in range(attempts):
        outcome = p.run(mode, time_left_s=FOREVER)
        outcomes.append(outcome)
        if outcome.status == "completed":
            return outcomes
    raise AssertionError(f"pull never completed: {[o.summary() for o in outcomes]}")


def test_events_announce_upserts_and_removals(fresh: Local) -> None:
    """Location events come from the cache's stream (the outbox), once per stored change. First in
    the module: later tests' pulls leave the local relay a backlog of thousands of records."""
    rt, sim = fresh
    sim_post(sim, "locations/reset", {"size": 40, "pull_min_interval_s": 0})
    ids = set(sim.state.network.ids())
    mark = events_seen(rt.events_out)
    pull_until_done(puller(), PullMode.FULL)
    gone = set(sim_post(sim, "locations/mutate", {"removed": 2})["removed"])
    pull_until_done(puller(), PullMode.FULL)

    def announced(kind: str) -> list[dict[str, Any]]:
        # Events of earlier tests' pulls may still be arriving: only this network's locations.
        return [e for e in events_in(rt.events_out, kind, since=mark) if e.get("location_id") in ids]

    # A subset: the fixture's wipe of earlier tests' caches (same ids) may still be announced.
    wait_for(lambda: gone <= {e["location_id"] for e in announced("LocationRemoved")}, 300)
    upserted = announced("LocationUpserted")
    assert {e["location_id"] for e in upserted} == ids
    assert len({e["idempotency_key"] for e in upserted}) == 40  # one stored change each
    assert len(events_in(rt.events_out, "TariffAdded", since=mark)) >= 1
    assert "publish" in upserted[0] and upserted[0]["evse_statuses"]


def test_full_pull_follows_the_link_header_exactly(fresh: Local) -> None:
    rt, sim = fresh
    before = len(location_requests(sim))
    outcome = puller().run(PullMode.FULL, time_left_s=FOREVER)
    assert outcome.status == "completed", outcome.summary()
    assert cached_ids(rt) == sim_ids(sim)
    run = outcome.run
    assert run is not None
    assert (run.pages, run.locations, run.created) == (3, 600, 600)
    requests = location_requests(sim)[before:]
    assert len(requests) == 3
    assert requests[0]["query"] == "limit=250"  # the first page: our parameters only
    for request in requests[1:]:
        assert request["query"].startswith("smart_paging=")  # the Link URL, as given
        assert "offset" not in request["query"]
    assert len({r["x_correlation_id"] for r in requests}) == 1
    assert sim.state.parallel_violations == 0


def test_unchanged_full_pull_writes_no_location(fresh: Local) -> None:
    _, _ = fresh
    pull_until_done(puller(), PullMode.FULL)
    with counting(this_thread_only=True) as calls:
        outcome = puller().run(PullMode.FULL, time_left_s=FOREVER)
    assert outcome.status == "completed"
    assert outcome.run is not None and outcome.run.unchanged == 600
    assert calls["dynamodb:BatchWriteItem"] == 0
    assert calls["events:PutEvents"] == 0
    # Checkpoints: one transaction per page, plus start and completion.
    assert calls["dynamodb:TransactWriteItems"] <= outcome.run.pages + 2


def test_resume_after_a_crash_between_pages(fresh: Local) -> None:
    rt, sim = fresh
    crashing = puller()
    crashing.lease_ttl_s = 1.0
    pages_left = [2]

    def time_left() -> float:
        if pages_left[0] == 0:
            raise SystemExit("the Lambda died")  # no cleanup runs after this in a real crash
        pages_left[0] -= 1
        return 900.0

    crashing.state.release = lambda holder: None  # type: ignore[method-assign]  # crash: lease kept
    with pytest.raises(SystemExit):
        crashing.run(PullMode.FULL, time_left_s=time_left)
    checkpoint = PullStateStore(rt.env[topology.STATE_TABLE.env_var]).run()
    assert checkpoint is not None and checkpoint.pages == 2 and checkpoint.next_url
    assert puller().run(PullMode.FULL, time_left_s=FOREVER).status == "busy"  # lease still held
    time.sleep(1.1)  # the crashed holder's lease expires
    first_pages_before = sum(1 for r in location_requests(sim) if "smart_paging" not in r["query"])
    outcome = puller().run(PullMode.DELTA, time_left_s=FOREVER)  # whatever is asked: resume
    assert outcome.status == "completed"
    assert outcome.run is not None and outcome.run.mode is PullMode.FULL and outcome.run.pages == 3
    assert outcome.run.invocations == 2
    first_pages_after = sum(1 for r in location_requests(sim) if "smart_paging" not in r["query"])
    assert first_pages_after == first_pages_before  # resumed at the page, not from the start
    assert cached_ids(rt) == sim_ids(sim)


def test_out_of_time_pauses_and_continues(fresh: Local) -> None:
    rt, sim = fresh
    budget = iter([900.0, 900.0, 10.0])
    outcome = puller().run(PullMode.FULL, time_left_s=lambda: next(budget))
    assert outcome.status == "paused" and outcome.pages_this_invocation == 2
    pull_until_done(puller(), PullMode.FULL)
    assert cached_ids(rt) == sim_ids(sim)


def test_a_429_storm_ends_with_exactly_the_simulators_set(fresh: Local) -> None:
    rt, sim = fresh
    sim_post(sim, "locations/reset", {"size": 1200, "pull_min_interval_s": 0})
    sim_post(sim, "chaos", {"rate_429": 0.6})
    rejected_before = sim.state.rejected_429
    outcomes = pull_until_done(puller(), PullMode.FULL, attempts=60)
    sim_post(sim, "chaos", {})
    assert sim.state.rejected_429 > rejected_before
    assert cached_ids(rt) == sim_ids(sim)
    assert outcomes[-1].run is not None and outcomes[-1].run.locations == 1200


def test_removal_on_a_completed_full_pull_only(fresh: Local) -> None:
    rt, sim = fresh
    pull_until_done(puller(), PullMode.FULL)
    removed = set(sim_post(sim, "locations/mutate", {"removed": 7})["removed"])
    assert len(removed) == 7
    assert pull_until_done(puller(), PullMode.DELTA)[-1].run.mode is PullMode.DELTA  # type: ignore[union-attr]
    assert removed <= cached_ids(rt)  # a delta cannot see removals
    # An interrupted full pull removes nothing.
    sim_post(
        sim, "chaos", {"route": "GET /ocpi/cpo/2.2.1/locations", "fail_next": [200, 503, 503, 503, 503, 503]}
    )
    interrupted = puller().run(PullMode.FULL, time_left_s=FOREVER)
    assert interrupted.status == "interrupted"
    assert removed <= cached_ids(rt)
    done = pull_until_done(puller(), PullMode.FULL)[-1]
    assert done.run is not None and done.run.removed == 7
    assert cached_ids(rt) == sim_ids(sim)
    assert not removed & cached_ids(rt)


def test_delta_picks_up_inlined_tariff_changes(fresh: Local) -> None:
    rt, sim = fresh
    pull_until_done(puller(), PullMode.FULL)
    changes = sim_post(sim, "locations/mutate", {"tariff_changes": 3, "status_changes": 2, "new": 1})
    outcome = pull_until_done(puller(), PullMode.DELTA)[-1]
    run = outcome.run
    assert run is not None and run.mode is PullMode.DELTA
    assert run.date_from is not None
    assert run.created == 1 and run.updated == 5
    assert run.new_tariffs == 1
    retariffed = changes["tariff_changed"][0]
    location = rt.admin("GET", f"/admin/locations/{retariffed}").json()["data"]
    connector = location["evses"][0]["connectors"][0]
    new_tariff = connector["tariff_ids"][0]
    assert connector["tariffs"][0]["id"] == new_tariff  # inlined again as received
    assert connector["tariffs"][0]["last_updated"] >= location["last_updated"]  # its own last_updated
    assert location["last_updated"] == sim.state.network.locations[retariffed]["last_updated"]


def test_location_without_name_and_deviations_are_kept(fresh: Local) -> None:
    rt, _sim = fresh
    outcome = pull_until_done(puller(), PullMode.FULL)[-1]
    nameless = rt.admin("GET", "/admin/locations/LOC0000020").json()["data"]
    assert "name" not in nameless and nameless["id"] == "LOC0000020"
    relaxed = rt.admin("GET", "/admin/locations/LOC0000097").json()["data"]
    assert relaxed["evses"][0]["connectors"][0]["standard"] == "Type2"
    assert outcome.deviations.by_kind()["unknown_enum"] >= 1
    assert outcome.deviations.by_kind()["long_string"] >= 1


def test_the_lease_refuses_a_second_concurrent_pull(fresh: Local) -> None:
    rt, _ = fresh
    store = PullStateStore(rt.env[topology.STATE_TABLE.env_var])
    assert store.acquire("someone-else", ttl_s=60)
    outcome = puller().run(PullMode.FULL, time_left_s=FOREVER)
    assert outcome.status == "busy"
    store.release("someone-else")
    assert puller().run(PullMode.FULL, time_left_s=FOREVER).status == "completed"


def test_soft_limit_one_new_pull_per_minute(fresh: Local) -> None:
    _, _ = fresh
    strict = puller(location_pull_min_interval_s=60)
    assert strict.run(PullMode.FULL, time_left_s=FOREVER).status == "completed"
    assert strict.run(PullMode.DELTA, time_left_s=FOREVER).status == "too_soon"


def test_malformed_location_is_skipped_not_the_page(fresh: Local) -> None:
    rt, sim = fresh
    pull_until_done(puller(), PullMode.FULL)
    sim_post(sim, "locations/corrupt", {"ids": ["LOC0000003"]})
    outcome = pull_until_done(puller(), PullMode.FULL)[-1]
    assert outcome.run is not None
    assert outcome.run.rejected == 1 and outcome.run.removed == 0
    assert outcome.run.unchanged == 599
    assert "LOC0000003" in cached_ids(rt)  # present in the feed, so never removed


def test_a_full_pull_refuses_to_empty_the_cache(fresh: Local) -> None:
    rt, sim = fresh
    pull_until_done(puller(), PullMode.FULL)
    sim_post(sim, "locations/reset", {"size": 100, "pull_min_interval_s": 0})
    outcome = pull_until_done(puller(), PullMode.FULL)[-1]
    assert outcome.run is not None and outcome.run.removed == 0
    assert "removal refused" in (outcome.run.last_error or "")
    assert len(cached_ids(rt)) == 600


def test_admin_api_starts_pulls_and_reads_the_cache(fresh: Local) -> None:
    rt, _sim = fresh
    started = rt.admin("POST", "/admin/locations/pull", {"mode": "full"})
    assert started.status_code == 202
    deadline = time.time() + 60
    while time.time() < deadline:
        status = rt.admin("GET", "/admin/locations/pull").json()["data"]
        if status["sync"]["completed_runs"]:  # written after the run's own COMPLETED checkpoint
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the pull requested through the admin API never completed")
    assert status["cache_age_s"] is not None and status["cache_age_s"] < 60
    bad = rt.admin("POST", "/admin/locations/pull", {"mode": "sometimes"})
    assert bad.status_code == 400 and "mode" in bad.json()["status_message"]
    page = rt.admin("GET", "/admin/locations?country=DE&limit=20").json()["data"]
    assert len(page["locations"]) == 20 and page["next_cursor"]
    assert all(s["country"] == "DEU" for s in page["locations"])
    second = rt.admin("GET", f"/admin/locations?country=DEU&limit=20&cursor={page['next_cursor']}")
    assert not {s["id"] for s in page["locations"]} & {s["id"] for s in second.json()["data"]["locations"]}
    by_operator = rt.admin("GET", "/admin/locations?operator_party=DE*EBW&operator=EnBW ODR&limit=100")
    summaries = by_operator.json()["data"]["locations"]
    assert summaries and all(s["operator"] == "EnBW ODR" and s["party"] == "DE*EBW" for s in summaries)
    assert rt.admin("GET", "/admin/locations/NOPE").status_code == 404
    assert rt.admin("GET", "/admin/locations").status_code == 400


def test_a_delta_of_status_changes_shows_through_the_admin_api(fresh: Local) -> None:
    """Status-only changes land in each location's status item (store/locations.py); the location
    item stays as it was, and the admin API shows the new statuses, one location and listed."""
    from roam_emp.store.locations import location_key, status_key

    rt, sim = fresh
    pull_until_done(puller(), PullMode.FULL)
    table = rt.env[topology.LOCATIONS_TABLE.env_var]

    def item(key: dict[str, Any]) -> dict[str, Any] | None:
        found: dict[str, Any] | None = aws.dynamodb().get_item(TableName=table, Key=key).get("Item")
        return found

    changed = sim_post(sim, "locations/mutate", {"status_changes": 5})["status_changed"]
    before = {i: item(location_key(i)) for i in changed}
    run = pull_until_done(puller(), PullMode.DELTA)[-1].run
    assert run is not None and run.mode is PullMode.DELTA and (run.updated, run.created) == (5, 0)
    listed: dict[str, dict[str, Any]] = {}
    for location_id in changed:
        served = sim.state.network.locations[location_id]
        shown = rt.admin("GET", f"/admin/locations/{location_id}").json()["data"]
        assert shown == served  # statuses and stamps included, tariffs inlined
        assert item(location_key(location_id)) == before[location_id]
        assert item(status_key(location_id)) is not None
        party = f"{served['country_code']}*{served['party_id']}"
        cursor: str | None = ""
        while location_id not in listed and cursor is not None:
            page = rt.admin(
                "GET",
                f"/admin/locations?operator_party={party}&limit=100"
                + (f"&cursor={cursor}" if cursor else ""),
            ).json()["data"]
            listed.update({s["id"]: s for s in page["locations"]})
            cursor = page["next_cursor"]
        counts: dict[str, int] = {}
        for evse in served["evses"]:
            counts[evse["status"]] = counts.get(evse["status"], 0) + 1
        assert listed[location_id]["evses"] == counts
        assert listed[location_id]["last_updated"] == served["last_updated"]
