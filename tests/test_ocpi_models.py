"""Strict in what we send, lenient in what we accept: the official examples, Plugsurfing's relaxed
validation, and what is truly unprocessable."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.credentials import Credentials
from roam_emp.ocpi.leniency import dump_outbound, parse_inbound
from roam_emp.ocpi.locations import Location
from roam_emp.ocpi.sessions import Session
from roam_emp.ocpi.tariffs import Tariff
from roam_emp.ocpi.tokens import Token
from roam_emp.ocpi.versions import Version, VersionDetails

from .helpers import EXAMPLES, example

OBJECT_EXAMPLES: list[tuple[str, type[BaseModel]]] = [
    ("cdr_example.json", Cdr),
    ("session_example_1_simple_start.json", Session),
    ("session_example_2_short_finished.json", Session),
    ("token_example_1_app_user.json", Token),
    ("token_example_2_full_rfid.json", Token),
    ("token_put_example.json", Token),
    ("version_details_example.json", VersionDetails),
    ("version_details_example2.json", VersionDetails),
    *[(p.name, Location) for p in sorted(EXAMPLES.glob("location_example*.json"))],
    *[
        (p.name, Tariff)
        for p in sorted(EXAMPLES.glob("tariff_*.json"))
        if p.name != "tariff_put_example.json"
    ],
    *[(p.name, Credentials) for p in sorted(EXAMPLES.glob("credentials_example*.json"))],
]


@pytest.mark.parametrize(("name", "model"), OBJECT_EXAMPLES, ids=[n for n, _ in OBJECT_EXAMPLES])
def test_official_examples_are_accepted(name: str, model: type[BaseModel]) -> None:
    parsed, _ = parse_inbound(model, example(name))
    # Round trip: what we parsed serializes back to OCPI JSON that parses to the same object.
    again, _ = parse_inbound(model, parsed.model_dump(mode="json", exclude_none=True))
    assert again == parsed


def test_versions_list_example() -> None:
    versions = [parse_inbound(Version, v)[0] for v in example("versions_info_example.json")]
    assert [v.version for v in versions] == ["2.1.1", "2.2.1"]


def _plugsurfing_cdr() -> dict[str, Any]:
    """The spec's CDR with what Plugsurfing's relaxed validation lets through (FAQ)."""
    cdr = copy.deepcopy(example("cdr_example.json"))
    cdr["cdr_location"]["address"] = "Industrieweg 1, Gebäude C, Zufahrt über Tor 4, " * 4  # ~190
    cdr["cdr_location"]["postal_code"] = "1234 AB / Postbus 99887766 / very long postal code"[:50]
    cdr["cdr_location"]["connector_standard"] = "Type2"
    cdr["x_plugsurfing_batch"] = "B-17"
    return cdr


def test_relaxed_cdr_is_kept_whole_and_every_deviation_counted() -> None:
    raw = _plugsurfing_cdr()
    cdr, deviations = parse_inbound(Cdr, raw)
    assert cdr.cdr_location.address == raw["cdr_location"]["address"]
    assert cdr.cdr_location.postal_code == raw["cdr_location"]["postal_code"]
    assert cdr.cdr_location.connector_standard == "Type2"
    assert cdr.model_extra == {"x_plugsurfing_batch": "B-17"}
    assert deviations.by_kind() == {"long_string": 2, "unknown_enum": 1, "extra_field": 1}
    wheres = {d.where for d in deviations.items}
    assert {
        "CdrLocation.address",
        "CdrLocation.postal_code",
        "CdrLocation.connector_standard",
        "Cdr.x_plugsurfing_batch",
    } == wheres


def test_spec_clean_example_has_no_deviations() -> None:
    _, deviations = parse_inbound(Session, example("session_example_2_short_finished.json"))
    assert len(deviations) == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.pop("id"), "id"),
        (lambda c: c["cdr_token"].pop("uid"), "cdr_token.uid"),
        (lambda c: c.update(start_date_time="29-06-2015 20:39"), "start_date_time"),
        (lambda c: c.update(total_energy="a lot"), "total_energy"),
        (lambda c: c["total_cost"].update(excl_vat="NaN"), "total_cost.excl_vat"),
    ],
)
def test_what_cannot_be_processed_is_refused_naming_the_field(mutate: Any, field: str) -> None:
    cdr = _plugsurfing_cdr()
    mutate(cdr)
    with pytest.raises(ValidationError) as caught:
        parse_inbound(Cdr, cdr)
    locations = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert field in locations


def test_outbound_refuses_what_the_spec_forbids() -> None:
    token, _ = parse_inbound(Token, example("token_example_2_full_rfid.json"))
    assert dump_outbound(token)["uid"] == token.uid
    too_long = token.model_copy(update={"contract_id": "X" * 37})
    with pytest.raises(ValidationError, match="contract_id"):
        dump_outbound(too_long)
    unknown = token.model_copy(update={"whitelist": "SOMETIMES"})
    with pytest.raises(ValidationError, match="whitelist"):
        dump_outbound(unknown)
    extra, _ = parse_inbound(Token, {**example("token_example_2_full_rfid.json"), "nickname": "x"})
    with pytest.raises(ValidationError, match="nickname"):
        dump_outbound(extra)


def test_outbound_json_uses_numbers_and_utc_z() -> None:
    session, _ = parse_inbound(Session, example("session_example_2_short_finished.json"))
    sent = dump_outbound(session)
    assert sent["start_date_time"].endswith("Z")
    assert isinstance(sent["kwh"], (int, float))
    assert isinstance(sent["total_cost"]["excl_vat"], (int, float))


def test_location_without_name_is_valid() -> None:
    location = copy.deepcopy(example("location_example.json"))
    location.pop("name")
    parsed, deviations = parse_inbound(Location, location)
    assert parsed.name is None
    assert len(deviations) == 0


def test_credentials_token_must_be_printable_ascii() -> None:
    body = example("credentials_example.json")
    with pytest.raises(ValidationError, match="token"):
        parse_inbound(Credentials, {**body, "token": "has space"})
