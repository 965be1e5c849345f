"""Location ingest's cheaper CPU path (issue 11): the canonical encoding by orjson (and what it
changes for hashes stored before), and the fast twin of lenient validation, which must give
exactly what the lenient model gives (moto in-process for the store)."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from roam_emp import topology
from roam_emp.domain.location_pull import page_validation
from roam_emp.ocpi import leniency
from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.leniency import DEVIATIONS_KEY, DeviationLog, check_inbound, parse_inbound, shared_parts
from roam_emp.ocpi.locations import Location
from roam_emp.ocpi.sessions import Session
from roam_emp.ocpi.tariffs import Tariff
from roam_emp.simulator.network import Network
from roam_emp.store import location_encoding as encoding
from roam_emp.store import locations as store
from roam_emp.store.locations import IncomingLocation, LocationCache, canonical, legacy_canonical

from .helpers import example


def _json_dumps_canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _page(size: int = 40) -> list[dict[str, Any]]:
    network = Network(size=size, seed=3)
    return [network.locations[i] for i in sorted(network.locations)]


# The canonical encoding ----------------------------------------------------------------------


def test_canonical_bytes_are_json_dumps_bytes_for_what_a_page_holds() -> None:
    docs: list[Any] = [
        *_page(),
        example("location_example.json"),
        {"é": 1, "z": [True, False, None], "a": {"ü": "straße 東京 🚗", "b": -0.0}, "n": 2**63 - 1},
        {"price": 0.47, "vat": 19.0, "big": 1e16, "x": 1e300, "neg": -123456.789},
    ]
    for doc in docs:
        assert canonical(doc) == _json_dumps_canonical(doc)


def test_only_small_floats_encode_differently_than_before() -> None:
    assert canonical({"p": 1e-05}) == b'{"p":0.00001}'
    assert legacy_canonical({"p": 1e-05}) == b'{"p":1e-05}'


@pytest.mark.parametrize(
    "doc",
    [{"id": "a\ud800b", "k": 1}, {"\udfffkey": "v"}, {"n": 2**64}, {"n": -(2**70)}],
    ids=["lone surrogate value", "lone surrogate key", "beyond 64 bits", "negative beyond 64 bits"],
)
def test_what_orjson_refuses_takes_the_json_encoding(doc: dict[str, Any]) -> None:
    encoded = canonical(doc)
    assert encoded == legacy_canonical(doc)
    assert json.loads(encoded) == doc  # the escapes parse back to the same document (issue 13)


def test_not_a_number_is_not_null() -> None:
    # orjson writes NaN and infinities as null; the hub client's parser accepts them
    hashes = {store.canonical_hash({"a": value}) for value in (None, float("nan"), float("inf"))}
    assert len(hashes) == 3
    assert canonical({"a": None, "b": "x"}) == b'{"a":null,"b":"x"}'


def test_a_body_without_non_finite_numbers_encodes_null_by_orjson_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Within finite_numbers() (a page the hub client parsed without NaN or infinities) a null is a
    null: the bytes are the same as the json encoding's, made without it."""
    doc = {"a": None, "b": [1, "x", {"c": None}]}
    calls: list[Any] = []
    monkeypatch.setattr(encoding, "legacy_canonical", lambda obj: calls.append(obj) or b"")
    with store.finite_numbers():
        assert canonical(doc) == _json_dumps_canonical(doc)
    assert calls == []
    with store.finite_numbers(False):
        canonical(doc)
    assert calls == [doc]  # NaN possible: the json encoding tells it from null
    canonical(doc)
    assert len(calls) == 2  # unknown (outside a pull's page): the same care


# Tariffs hashed under the encoding before orjson ------------------------------------------------


def _tariff(price: float, tariff_id: str = "TRF-SMALL") -> dict[str, Any]:
    tariff = example("tariff_14_step_size.json")
    tariff = {**tariff, "id": tariff_id, "country_code": "DE", "party_id": "8PS"}
    tariff["elements"] = [
        {"price_components": [{"type": "ENERGY", "price": price, "vat": 19.0, "step_size": 1}]}
    ]
    return tariff


def _with_tariff(tariff: dict[str, Any], location_id: str = "LOC-T") -> IncomingLocation:
    raw = copy.deepcopy({**example("location_example.json"), "id": location_id})
    raw["evses"][0]["connectors"][0]["tariffs"] = [tariff]
    return IncomingLocation(Location.model_validate(raw), raw)


@pytest.fixture
def legacy_encoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """The store as it hashed before orjson, until the returned function is called (each
    encoding with its own memo of tariff hashes: a process never changes encodings)."""
    monkeypatch.setattr(encoding, "canonical", legacy_canonical)
    monkeypatch.setattr(encoding, "_TARIFF_HASHES", {})

    def undo() -> None:
        monkeypatch.undo()
        encoding._TARIFF_HASHES.clear()

    yield undo


def test_a_tariff_stored_under_its_old_hash_is_not_a_new_version(
    aws_mock: dict[str, str], legacy_encoding: Callable[[], None]
) -> None:
    tariff = _tariff(1e-05)
    assert store.canonical_hash(tariff) != store._digest(canonical(tariff))
    first = LocationCache(aws_mock[topology.LOCATIONS_TABLE.env_var]).upsert([_with_tariff(tariff)])
    assert [t["id"] for t in first.new_tariffs] == ["TRF-SMALL"]
    legacy_encoding()  # orjson from here on, a fresh process (no tariff known in memory)
    again = LocationCache(aws_mock[topology.LOCATIONS_TABLE.env_var]).upsert([_with_tariff(tariff, "LOC-T2")])
    assert (again.new_tariffs, again.changed_tariffs) == ([], [])
    # a really different body under that id is still a new version
    changed = LocationCache(aws_mock[topology.LOCATIONS_TABLE.env_var]).upsert(
        [_with_tariff(_tariff(2e-05), "LOC-T3")]
    )
    assert changed.changed_tariffs == ["TRF-SMALL"]


def test_an_older_version_stored_under_its_old_hash_is_not_announced_again(
    aws_mock: dict[str, str], legacy_encoding: Callable[[], None]
) -> None:
    table = aws_mock[topology.LOCATIONS_TABLE.env_var]
    older, newer = _tariff(1e-05), {**_tariff(3e-05), "last_updated": "2030-01-01T00:00:00Z"}
    LocationCache(table).upsert([_with_tariff(older)])
    assert LocationCache(table).upsert([_with_tariff(newer, "LOC-T2")]).changed_tariffs == ["TRF-SMALL"]
    legacy_encoding()
    # the older body again: stored as a version (under its old hash), the current one is newer
    again = LocationCache(table).upsert([_with_tariff(older, "LOC-T3")])
    assert (again.new_tariffs, again.changed_tariffs) == ([], [])


# The fast twin of lenient validation -----------------------------------------------------------


def _errors(error: ValidationError) -> list[tuple[Any, ...]]:
    return [(e["type"], e["loc"], e["msg"], repr(e["input"])) for e in error.errors()]


def _both(model: type[BaseModel], data: Any) -> None:
    """parse_inbound and check_inbound (fast twin first, with and without shared tariffs, each
    twice: the second time from the shared cache; and as on a page known to hold no NaN when it
    holds none) and the lenient model itself agree on everything."""
    try:
        json.dumps(data, allow_nan=False)
        finite = True
    except ValueError:  # NaN or an infinity: the hub client would not say known_finite
        finite = False
    slow_log = DeviationLog()
    try:
        expected = model.model_validate(copy.deepcopy(data), context={DEVIATIONS_KEY: slow_log})
    except ValidationError as error:
        for check in (parse_inbound, check_inbound):
            for sharing in (shared_parts(), page_validation(), page_validation(), page_validation(finite)):
                with sharing, pytest.raises(ValidationError) as raised:
                    check(model, copy.deepcopy(data))
                assert _errors(raised.value) == _errors(error)
        return
    for sharing in (shared_parts(), page_validation(), page_validation(), page_validation(finite)):
        with sharing:
            parsed, log = parse_inbound(model, copy.deepcopy(data))
            fields, fields_log = check_inbound(model, copy.deepcopy(data))
        assert parsed == expected
        assert parsed.model_dump(mode="json") == expected.model_dump(mode="json")
        assert log.items == slow_log.items
        # the fields as the model gives them, with the same deviations in the same order
        assert fields == expected.model_dump()
        assert fields_log.items == slow_log.items


def _mutations() -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    def setter(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
        def apply(doc: dict[str, Any]) -> None:
            node: Any = doc
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = value

        return apply

    connector = ("evses", 0, "connectors", 0)
    tariff = (*connector, "tariffs", 0)
    return [
        ("tariff long currency", setter((*tariff, "currency"), "EURO")),
        ("tariff unknown type", setter((*tariff, "type"), "FLAT")),
        ("tariff extra field", setter((*tariff, "roam_extension"), True)),
        ("tariff malformed", setter((*tariff, "elements"), None)),
        ("tariff price text", setter((*tariff, "elements", 0, "price_components", 0, "price"), "x")),
        ("tariff surrogate", setter((*tariff, "tariff_alt_url"), "http://\ud800")),
        ("tariff huge int", setter((*tariff, "elements", 0, "price_components", 0, "step_size"), 2**70)),
        ("tariffs not a list", setter((*connector, "tariffs"), {"id": "x"})),
        ("tariff vat null", setter((*tariff, "elements", 0, "price_components", 0, "vat"), None)),
        ("tariff vat nan", setter((*tariff, "elements", 0, "price_components", 0, "vat"), float("nan"))),
        ("long address", setter(("address",), "x" * 60)),
        ("lone surrogate", setter(("name",), "Stop \ud800")),
        ("unknown standard", setter((*connector, "standard"), "Type2")),
        ("unknown status", setter(("evses", 0, "status"), "BROKEN")),
        ("extra field", setter(("roam_extension",), {"a": 1})),
        ("extra field deep", setter((*connector, "roam_extension"), 1)),
        ("malformed optional", setter(("opening_times",), {"regular_hours": []})),
        ("malformed list item", setter(("evses", 0, "capabilities"), ["RFID_READER", 3])),
        ("connectors null", setter(("evses", 0, "connectors"), None)),
        ("timestamp offset", setter(("last_updated",), "2026-11-02T16:14:07+01:00")),
        ("timestamp no zone", setter(("evses", 0, "last_updated"), "2026-11-02T15:14:07")),
        ("timestamp nanoseconds", setter(("last_updated",), "2026-11-02T15:14:07.123456789Z")),
        ("timestamp impossible", setter(("last_updated",), "2026-02-30T10:00:00Z")),
        ("timestamp lower z", setter(("last_updated",), "2026-11-02t15:14:07z")),
        ("missing id", lambda doc: doc.pop("id")),
        ("id not a string", setter(("id",), 123)),
        ("country missing", lambda doc: doc.pop("country")),
        ("bad latitude", setter(("coordinates", "latitude"), ["x"])),
        ("enum not a string", setter(("parking_type",), 7)),
        ("long id", setter(("id",), "L" * 40)),
    ]


@pytest.mark.parametrize("name, mutate", _mutations(), ids=[m[0] for m in _mutations()])
def test_the_fast_twin_agrees_with_the_model(name: str, mutate: Callable[[dict[str, Any]], None]) -> None:
    with_tariff = copy.deepcopy(example("location_example.json"))
    with_tariff["evses"][0]["connectors"][0]["tariffs"] = [_tariff(0.25)]
    for base in (with_tariff, _page(3)[2]):
        doc = copy.deepcopy(base)
        try:
            mutate(doc)
        except (KeyError, IndexError):
            continue  # a tariff mutation on a document without one
        _both(Location, doc)


def test_the_fast_twin_agrees_on_a_page_and_the_official_examples() -> None:
    for doc in _page(250):
        _both(Location, doc)
    _both(Cdr, example("cdr_example.json"))
    _both(Session, example("session_example_1_simple_start.json"))
    _both(Tariff, example("tariff_14_step_size.json"))


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 500),
    st.sampled_from(["AVAILABLE", "Type2", "IEC_62196_T2", "2026-11-02T15:14:07Z", "x" * 50, "\ud800", ""]),
    st.text(max_size=12),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_twin_agrees_on_random_damage(data: st.DataObject) -> None:
    doc = copy.deepcopy(_page(3)[1])
    for _ in range(data.draw(st.integers(1, 4))):
        node: Any = doc
        while True:  # walk down to a random container, then replace one of its values
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = data.draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            node[key] = data.draw(_leaf)
            break
    _both(Location, doc)


def _python_calls(action: Callable[[], Any]) -> list[str]:
    """The project's functions called while ``action`` runs."""
    calls: list[str] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and "roam_emp" in frame.f_code.co_filename:
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls


def test_a_conforming_location_calls_no_python_while_validated() -> None:
    location = _page(3)[1]
    parse_inbound(Location, location)  # built on first use
    assert _python_calls(lambda: parse_inbound(Location, location)) == ["parse_inbound", "_fast_validator"]


def test_a_conforming_location_is_checked_without_building_a_model() -> None:
    location = _page(3)[1]
    check_inbound(Location, location)  # built on first use
    assert _python_calls(lambda: check_inbound(Location, location)) == ["check_inbound", "_fast_validator"]
    fields, _ = check_inbound(Location, location)

    def models(value: Any) -> int:
        if isinstance(value, BaseModel):
            return 1
        if isinstance(value, dict):
            return sum(models(v) for v in value.values())
        return sum(models(v) for v in value) if isinstance(value, list) else 0

    with page_validation():  # the shared tariffs too
        assert models(check_inbound(Location, location)[0]) == 0
    assert models(fields) == 0 and fields == Location.model_validate(location).model_dump()


def _inlined(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for loc in page for e in loc["evses"] for c in e["connectors"] for t in c.get("tariffs", [])]


def _tariffs_validated(
    page: list[dict[str, Any]], check: Callable[..., Any], fields_only: bool, known_finite: bool = False
) -> int:
    """How many tariffs validating ``page`` validates (the shared ones once per content)."""
    validated: list[Any] = []
    with page_validation():
        check(Location, page[0])  # built on first use
    fast = leniency._fast_validator(Tariff, fields_only=fields_only)
    leniency._SHARED_PARTS[(Tariff, fields_only)].known.clear()  # nothing validated before this page
    leniency._FAST[(Tariff, frozenset(), fields_only)] = _Counting(fast, validated)
    try:
        with page_validation(known_finite):
            for location in page:
                check(Location, location)
    finally:
        leniency._FAST[(Tariff, frozenset(), fields_only)] = fast
    return len(validated)


@pytest.mark.parametrize("check, fields_only", [(parse_inbound, False), (check_inbound, True)])
def test_a_page_validates_each_inlined_tariff_once(check: Callable[..., Any], fields_only: bool) -> None:
    page = _page(60)
    distinct = {canonical(t) for t in _inlined(page)}
    assert 0 < _tariffs_validated(page, check, fields_only) <= len(distinct) < len(_inlined(page))


def test_a_tariff_holding_null_is_shared_when_the_page_held_no_nan() -> None:
    """orjson writes NaN as null: a tariff holding null is one content only on a page the hub
    client parsed without NaN or infinities (known_finite), and validated at each use otherwise."""
    page = copy.deepcopy(_page(60))
    for tariff in _inlined(page):
        tariff["min_price"] = None
    distinct = {canonical(t) for t in _inlined(page)}
    assert _tariffs_validated(page, check_inbound, True, known_finite=True) <= len(distinct)
    assert len(distinct) < _tariffs_validated(page, check_inbound, True) == len(_inlined(page))


class _Counting:
    def __init__(self, inner: Any, seen: list[Any]) -> None:
        self.inner, self.seen = inner, seen

    def validate_python(self, value: Any, **kwargs: Any) -> Any:
        self.seen.append(value)
        return self.inner.validate_python(value, **kwargs)


# The stored document's compression -------------------------------------------------------------


def _write_units(record: dict[str, Any]) -> int:
    return -(-store.item_bytes(record) // 1024)


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_the_stored_doc_is_level_1_but_where_zlib_level_6_saves_a_write_unit(codec: str) -> None:
    """Level 1 of the codec (cdk.json location_doc_compression) is the cheaper CPU; zlib level 6
    only where the item could then fit a KB fewer: as many write units as zlib level 6
    everywhere (a simulator page has items that level 1 alone puts over 1 KB), level 6 tried for
    a few items only."""
    import zlib

    from roam_emp.store.compression import decompress, zstd_compress

    level_1 = zstd_compress if codec == "zstd" else lambda doc: zlib.compress(doc, 1)
    fast = tight = tried = units = 0
    for raw in _page(250):
        encoded = store.encode(raw)
        record = store.location_record(Location.model_validate(raw), encoded, codec)
        assert decompress(record["doc"]["B"]) == encoded.doc_bytes  # what the readers unpack
        other = store.item_bytes({k: v for k, v in record.items() if k != "doc"}) + len("doc")
        fast += -(-(other + len(level_1(encoded.doc_bytes))) // 1024)
        level_6 = -(-(other + len(zlib.compress(encoded.doc_bytes, 6))) // 1024)
        tight += level_6
        assert _write_units(record) <= level_6
        units += _write_units(record)
        tried += record["doc"]["B"] != level_1(encoded.doc_bytes)
    assert tight < fast  # the page has items where the level matters
    assert units == tight
    assert 0 < tried <= 25


def test_an_item_is_sized_as_dynamodb_bills_it() -> None:
    assert store.item_bytes({"pk": {"S": "LOC#é"}, "doc": {"B": b"\x00" * 10}}) == 2 + 6 + 3 + 10
    assert store.item_bytes({"id": {"S": "\ud800"}}) == 2 + 3  # kept as received, sized


def test_an_inlined_tariff_is_hashed_once_per_content(monkeypatch: pytest.MonkeyPatch) -> None:
    tariffs = [t for raw in _page(60) for t in store.encode(raw).tariffs.values()]
    encoding._TARIFF_HASHES.clear()
    hashed: list[Any] = []
    monkeypatch.setattr(encoding, "canonical_hash", lambda t: hashed.append(t) or store.canonical_hash(t))
    with store.finite_numbers():
        assert [encoding.tariff_hash(t) for t in tariffs] == [store.canonical_hash(t) for t in tariffs]
    assert len(hashed) == len({canonical(t) for t in tariffs}) < len(tariffs)


def test_a_tariff_holding_nan_does_not_hash_as_its_null_twin() -> None:
    """orjson writes NaN as null: a body that may hold NaN is not memoized by orjson's encoding."""
    encoding._TARIFF_HASHES.clear()
    with_null = encoding.tariff_hash({"id": "T-NAN", "price": None})
    assert encoding.tariff_hash({"id": "T-NAN", "price": float("nan")}) != with_null
