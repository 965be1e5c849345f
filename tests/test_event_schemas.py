"""Every domain event that reaches the bus validates against its JSON Schema (events/schemas/,
draft 2020-12), over a realistic local-mode run: registration, location pulls (a removal, a
tariff changed under its id, status-only changes), a token push, an authorization, a session
started and stopped by command with its CDR, the CDR reprocessed, a command timed out by the
timer, unregistration. Every detail type seen has a schema, and every schema is exercised."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from roam_emp import topology
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.ocpi.locations import Location
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store.locations import IncomingLocation, LocationCache

from .helpers import events_in, register

Local = tuple[LocalRuntime, RoamSimulator]
SCHEMAS = Path(__file__).resolve().parents[1] / "events" / "schemas"
NETWORK = 12


def schemas() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(SCHEMAS.glob("*.v1.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        found[path.name.removesuffix(".v1.json")] = schema
    return found


def all_events(rt: LocalRuntime) -> list[dict[str, Any]]:
    path = Path(rt.events_out or "")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sim_post(sim: RoamSimulator, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.post(f"{sim.url}/_sim/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def seen(
    rt: LocalRuntime, detail_type: str, match: Callable[[dict[str, Any]], bool] = lambda _d: True
) -> Any:
    return wait_for(lambda: next((d for d in events_in(rt.events_out, detail_type) if match(d)), None), 90)


def command(rt: LocalRuntime, name: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = rt.admin("POST", f"/admin/commands/{name}", body)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


def _tariff_changed_under_its_id(rt: LocalRuntime) -> None:
    """A CPO changing a tariff's content under the same id (FAQ: should not happen) is kept and
    announced as TariffChanged: the cached location written again with one price changed."""
    summaries = rt.admin("GET", "/admin/locations?country=DEU&limit=500").json()["data"]["locations"]
    for summary in summaries:
        location = rt.admin("GET", f"/admin/locations/{summary['id']}").json()["data"]
        connectors = [c for e in location.get("evses") or [] for c in e.get("connectors") or []]
        priced = next((c for c in connectors if c.get("tariffs")), None)
        if priced is not None:
            priced["tariffs"][0]["elements"][0]["price_components"][0]["price"] += 1
            LocationCache(rt.env[topology.LOCATIONS_TABLE.env_var]).upsert(
                [IncomingLocation(Location.model_validate(location), location)]
            )
            tariff_id = priced["tariffs"][0]["id"]
            seen(rt, "TariffChanged", lambda d, wanted=tariff_id: d["tariff_id"] == wanted)
            return
    raise AssertionError("no cached location carries a tariff")


def _statuses_changed(rt: LocalRuntime, location_ids: list[str]) -> None:
    """Status-only changes, as the pull stores them: each location's status item (sk ``S``)
    written; the relay announces the batch in LocationStatusesChanged events."""
    from roam_emp.store import aws

    for n, location_id in enumerate(location_ids):
        evses = [{"uid": f"{location_id}-E1", "status": "CHARGING", "last_updated": "2026-11-30T06:00:00Z"}]
        evses.append(
            {"uid": f"{location_id}-E2", "status": "REMOVED", "last_updated": "2026-11-30T06:00:00Z"}
        )
        aws.platform_client("dynamodb").put_item(
            TableName=rt.env[topology.LOCATIONS_TABLE.env_var],
            Item={
                "pk": {"S": f"LOC#{location_id.upper()}"},
                "sk": {"S": "S"},
                "location_id": {"S": location_id},
                "base_hash": {"S": "b" * 32},
                "shape_hash": {"S": "5" * 32},
                "content_hash": {"S": f"{n:032x}"},
                "last_updated": {"S": "2026-11-30T06:00:00Z"},
                "last_updated_ms": {"N": "1796018400000"},
                "evse_statuses": {"S": json.dumps({"CHARGING": 1})},
                "evses": {"S": json.dumps(evses)},
            },
        )

    def announced() -> bool:
        changes = [c for d in events_in(rt.events_out, "LocationStatusesChanged") for c in d["changes"]]
        return {c["location_id"] for c in changes} >= set(location_ids)

    wait_for(announced, 90)


@pytest.fixture(scope="module")
def journey(local: Local) -> LocalRuntime:
    rt, sim = local
    sim_post(sim, "chaos", {})
    sim_post(sim, "locations/reset", {"size": NETWORK, "pull_min_interval_s": 0})
    registered = register(rt, sim)
    assert registered.status_code == 200, registered.text
    seen(rt, "HubRegistered")

    # A full pull through the admin API (LocationPullRequested -> the LocationPull function).
    assert rt.admin("POST", "/admin/locations/pull", {"mode": "full"}).status_code == 202
    wait_for(lambda: len(events_in(rt.events_out, "LocationUpserted")) >= NETWORK, 120)
    seen(rt, "TariffAdded")
    removed = sim_post(sim, "locations/mutate", {"removed": 1})["removed"][0]
    assert rt.admin("POST", "/admin/locations/pull", {"mode": "full"}).status_code == 202
    seen(rt, "LocationRemoved", lambda d: d["location_id"] == removed)
    _tariff_changed_under_its_id(rt)
    _statuses_changed(rt, sorted(set(sim.state.network.locations) - {removed})[:3])

    # A token pushed to Plugsurfing, then authorized in real time by Plugsurfing.
    uid = "SCHEMA0000000001"
    pushed = rt.admin("POST", "/admin/tokens", {"uid": uid, "type": "RFID", "contract_id": "NLEMPS00000001"})
    assert pushed.status_code == 202, pushed.text
    seen(rt, "TokenPushStateChanged", lambda d: d["token_uid"] == uid and d["push_state"] == "PUSHED")
    location_id = sorted(set(sim.state.network.locations) - {removed})[0]
    hub = httpx.Client(headers={"Authorization": encode_token(sim.state.our_token_for_emp or "")}, timeout=30)
    authorized = hub.post(
        f"{rt.url}/ocpi/2.2.1/tokens/{uid}/authorize?type=RFID", json={"location_id": location_id}
    )
    assert authorized.status_code == 200, authorized.text
    seen(rt, "AuthorizationDecided", lambda d: d["token_uid"] == uid)

    # A session started and stopped by command; its CDR; the CDR reprocessed (a new round of facts).
    start = command(rt, "START_SESSION", {"token_uid": uid, "location_id": location_id})
    seen(rt, "CommandResultReceived", lambda d: d["command_id"] == start["command_id"])
    session_id = wait_for(lambda: next(iter(httpx.get(f"{sim.url}/_sim/sessions/active").json()), None))
    seen(rt, "SessionUpdated", lambda d: d["session_id"] == session_id)
    command(rt, "STOP_SESSION", {"session_id": session_id})
    cdr = seen(rt, "CdrReceived", lambda d: d["cdr_id"] == session_id)
    assert rt.admin("POST", "/admin/cdrs/reprocess", {"key": cdr["archive_key"]}).status_code == 200
    seen(rt, "CdrFactsUpdated", lambda d: d["cdr_id"] == session_id)

    # No result in time: the timer (an EventBridge schedule in AWS) writes TIMEOUT.
    sim_post(sim, "commands/behaviour", {"callbacks": False, "timeout": 1})
    timed = command(rt, "START_SESSION", {"token_uid": uid, "location_id": location_id})
    timer = next(f for f in topology.FUNCTIONS if f.name == "CommandTimeouts")
    wait_for(lambda: timed["command_id"] in rt.invoker.invoke(timer, {})["timed_out"], 60, interval=1)
    seen(
        rt,
        "CommandResultReceived",
        lambda d: d["command_id"] == timed["command_id"] and d["source"] == "timer",
    )
    sim_post(sim, "commands/behaviour", {})

    # The driver forgotten (GDPR, docs/operations.md): one event, without personal data.
    forgotten = rt.admin("POST", "/admin/privacy/forget", {"token_uid": uid, "force": True})
    assert forgotten.status_code == 200, forgotten.text
    seen(rt, "PersonalDataForgotten")

    assert rt.admin("DELETE", "/admin/registration").status_code == 200
    seen(rt, "HubUnregistered")
    return rt


def test_every_schema_is_a_versioned_draft_2020_12_contract() -> None:
    found = schemas()
    assert found
    for name, schema in found.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f"/{name}.v1.json")
        description = schema["description"]
        assert "Delivery: at least once" in description or "Delivery: at most once per request" in description
        assert "Idempotency key:" in description, name
        if "idempotency_key" in schema["properties"]:
            assert "idempotency_key" in schema["required"], name


def test_every_published_event_validates_against_its_schema(journey: LocalRuntime) -> None:
    found = schemas()
    events = all_events(journey)
    types = {e["detail-type"] for e in events}
    assert types - set(found) == set(), "detail types without a schema"
    assert set(found) - types == set(), "schemas never exercised by the run"
    for event in events:
        assert event["source"] == topology.EVENT_SOURCE
        validator = jsonschema.Draft202012Validator(
            found[event["detail-type"]], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(event["detail"])]
        assert not errors, (event["detail-type"], errors, event["detail"])


def test_the_schemas_are_not_vacuous(journey: LocalRuntime) -> None:
    """A detail with a field missing, a field undocumented or a key of another event fails."""
    found = schemas()
    for detail_type, schema in found.items():
        detail = next(iter(events_in(journey.events_out, detail_type)))
        validator = jsonschema.Draft202012Validator(schema)
        assert not validator.is_valid({**detail, "undocumented": 1}), detail_type
        required = schema["required"][0]
        assert not validator.is_valid({k: v for k, v in detail.items() if k != required}), detail_type
        if "idempotency_key" in detail:
            assert not validator.is_valid({**detail, "idempotency_key": "Other/x/y"}), detail_type


def test_a_failed_cost_check_has_the_shape_of_every_verdict() -> None:
    """The enricher's fallback when the check itself fails (e.g. the location read) is a verdict
    like any other (UNCHECKABLE with its reason), so consumers read one shape."""
    from decimal import Decimal

    from roam_emp.domain.cdr_enrichment import CdrEnricher
    from roam_emp.ocpi.cdrs import Cdr
    from roam_emp.ocpi.leniency import parse_inbound

    from .helpers import example

    class Unreachable:
        def time_zone_of(self, location_id: str) -> str | None:
            raise ConnectionError("DynamoDB unreachable")

    enricher = CdrEnricher(None, None, Unreachable(), Decimal("0.01"))  # type: ignore[arg-type]
    verdict = enricher.cost_check(parse_inbound(Cdr, example("cdr_example.json"))[0])
    schema = schemas()["CdrReceived"]
    shape = {**schema["$defs"]["cost_check"], "$defs": schema["$defs"]}
    jsonschema.validate(verdict, shape, cls=jsonschema.Draft202012Validator)
    assert verdict["status"] == "UNCHECKABLE" and "ConnectionError" in verdict["reasons"][0]
