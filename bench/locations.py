"""Locations benchmarks (issue 3).

1. A full pull of 20,000 locations from the simulator into local mode: wall time, pages per
   second, and DynamoDB write requests; then a second full pull with nothing changed (target: no
   location writes, only a checkpoint transaction per page).
2. The CPU cost of one 250-location page (change detection, validation of what changed, what is
   stored), unchanged / status-only changed / fully changed, side by side with plain ``json.loads``
   of the same bytes (the floor) and with the previous design, as ratios (issue 11).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from roam_emp.domain.location_pull import LocationPuller
from roam_emp.ocpi.locations import Location
from roam_emp.store.pull_state import PullMode

from .aws_calls import counting
from .harness import register_with

NETWORK = int(os.environ.get("BENCH_LOCATIONS", "20000"))
WRITES = (
    "dynamodb:BatchWriteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:DeleteItem",
)


def _writes(calls: Counter[str]) -> dict[str, int]:
    return {k: v for k, v in calls.items() if k in WRITES}


def _pull(puller: LocationPuller) -> tuple[dict[str, Any], Counter[str], float]:
    with counting() as calls:
        started = time.perf_counter()
        outcome = puller.run(PullMode.FULL, time_left_s=lambda: 900.0)
        elapsed = time.perf_counter() - started
    assert outcome.status == "completed", outcome.summary()
    assert outcome.run is not None
    return outcome.run.model_dump(mode="json"), calls, elapsed


def full_pulls() -> dict[str, Any]:
    import dataclasses

    from roam_emp.config import settings
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator

    with (
        LocalRuntime(log_level="ERROR", schedules=False, ship_logs=False) as runtime,
        RoamSimulator(network_size=NETWORK) as simulator,
    ):
        httpx.post(
            f"{simulator.url}/_sim/locations/reset", json={"size": NETWORK, "pull_min_interval_s": 0}
        ).raise_for_status()
        register_with(runtime, simulator)
        config = dataclasses.replace(settings(), location_pull_min_interval_s=0)
        first, first_calls, first_s = _pull(LocationPuller.from_settings(config))
        second, second_calls, second_s = _pull(LocationPuller.from_settings(config))
        pages = first["pages"]
        return {
            "locations": NETWORK,
            "first_full_pull": {
                "seconds": round(first_s, 1),
                "pages": pages,
                "pages_per_s": round(pages / first_s, 2),
                "created": first["created"],
                "write_requests": _writes(first_calls),
                "aws_calls": dict(first_calls),
            },
            "unchanged_full_pull": {
                "seconds": round(second_s, 1),
                "pages_per_s": round(second["pages"] / second_s, 2),
                "unchanged": second["unchanged"],
                "write_requests": _writes(second_calls),
                "write_requests_per_page": round(sum(_writes(second_calls).values()) / second["pages"], 2),
                "aws_calls": dict(second_calls),
            },
        }


def _fastest_interleaved(actions: dict[str, Any], rounds: int = 15, repeat: int = 2) -> dict[str, float]:
    """The least CPU time of each action over ``rounds``, the actions taking turns round after
    round. CPU time of this process (``process_time``), not wall time: waiting for a core is not
    the page's cost. The least, not the median: another process's work only ever adds to a
    round's time (on hyperthreads and shared caches even to its CPU time), and a long action is
    hit more often than ``json.loads``, so on a shared machine the medians' ratios wandered by a
    quarter between runs and the least ones by a few percent; on a quiet machine they agree
    (the ratios are what is compared, not the times)."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            started = time.process_time()
            for _ in range(repeat):
                action()
            times[name].append((time.process_time() - started) / repeat)
    return {name: min(values) for name, values in times.items()}


def _with_nulls(location: dict[str, Any]) -> dict[str, Any]:
    """The location with ``directions`` null and each inlined tariff's ``min_price`` null."""
    evses = [
        {
            **evse,
            "connectors": [
                {**c, "tariffs": [{**t, "min_price": None} for t in c["tariffs"]]} if "tariffs" in c else c
                for c in evse["connectors"]
            ],
        }
        for evse in location["evses"]
    ]
    return {**location, "directions": None, "evses": evses}


def parse_cost() -> dict[str, Any]:
    """The CPU work of one page of 250 locations, from its bytes to what DynamoDB is sent, as a
    ratio to plain ``json.loads`` of the same bytes, for an unchanged page, a page where every
    location's EVSE statuses changed, and a page where every location changed otherwise; beside
    two earlier designs, run as they were (the lenient model's Python checks, ``json.dumps``):
    the first (validate everything, hash, copy by ``json.loads(json.dumps())``, pack) and the
    previous round's (hash first, validate what changed)."""
    import math
    import zlib

    from pydantic_core import from_json  # the pull's parser (hub/client.py), ~ json.loads here

    from roam_emp.domain.location_pull import _status_change, page_validation
    from roam_emp.ocpi.leniency import (
        DEVIATIONS_KEY,
        DeviationLog,
        check_inbound,
        parse_inbound,
        to_json_dict,
    )
    from roam_emp.ocpi.timestamps import format_timestamp
    from roam_emp.simulator.network import Network
    from roam_emp.store.compression import ZLIB, ZSTD, ZSTD_LEVEL, zstd_compress
    from roam_emp.store.dynamo import item_bytes
    from roam_emp.store.location_encoding import (
        DOC_COMPRESSION,
        DOC_COMPRESSION_TIGHT,
        _digest,
        _shape,
        _split_tariffs,
        canonical_hash,
        compress_doc,
        encode,
        finite_numbers,
        legacy_canonical,
    )
    from roam_emp.store.location_items import (
        IncomingLocation,
        _summary,
        location_record,
        status_item,
    )
    from roam_emp.store.lookups import location_key

    network = Network(size=250, seed=3)
    page = [network.locations[i] for i in sorted(network.locations)]
    raw = json.dumps(page).encode()
    # The same page with a null in every location and every inlined tariff (CPOs send them): a
    # null in orjson's encoding needs the json encoding, and a tariff holding one is not shared,
    # unless the page is known to hold no NaN (store/location_encoding.py, ocpi/leniency.py).
    with_nulls = json.dumps([_with_nulls(location) for location in page]).encode()

    def python_checks(item: dict[str, Any]) -> Location:
        """The lenient model alone, every check a Python call (the earlier designs)."""
        return Location.model_validate(item, context={DEVIATIONS_KEY: DeviationLog()})

    # As LocationPuller processes a page the hub client parsed without NaN or infinities (the
    # simulator's pages hold none): tariffs validated once per content, nulls encoded by orjson.
    def unchanged(body: bytes = raw) -> None:
        with finite_numbers():
            for item in from_json(body):
                encode(item).content_hash  # noqa: B018 - compared with the stored hash

    def status_changed() -> None:
        with page_validation(), finite_numbers():
            for item in from_json(raw):
                encoded = encode(item)
                encoded.shape_hash  # noqa: B018 - equal to the stored one: status-only
                change = _status_change(item, DeviationLog())
                status_item(IncomingLocation(None, item, encoded, change), "base")  # its PutItem

    def fully_changed(body: bytes = raw, known_finite: bool = True, codec: str = ZSTD) -> None:
        with page_validation(known_finite), finite_numbers(known_finite):
            for item in from_json(body):
                encoded = encode(item)
                encoded.shape_hash  # noqa: B018 - differs from the stored one
                location, _ = check_inbound(Location, item)
                encoded.tariff_hashes  # noqa: B018 - new tariff versions are looked for
                location_record(location, encoded, codec)  # what BatchWriteItem sends

    def before_this_round() -> None:
        """``fully_changed`` as the pull did it when this round began (docs/performance.md): the
        lenient model's fast twin building the models, each inlined tariff hashed, the summary
        and status counts by ``json.dumps``, the document at zlib level 6; the same item."""
        with page_validation(), finite_numbers():
            for item in from_json(raw):
                encoded = encode(item)
                encoded.shape_hash  # noqa: B018
                location, _ = parse_inbound(Location, item)
                {tariff_id: canonical_hash(t) for tariff_id, t in encoded.tariffs.items()}
                operator = location.operator
                summary = {
                    "id": location.id,
                    "name": location.name,
                    "publish": location.publish,
                    "publish_allowed_to": [to_json_dict(p) for p in location.publish_allowed_to or []]
                    or None,
                    "operator": operator.name if operator else None,
                    "party": f"{location.country_code}*{location.party_id}",
                    "country": location.country,
                    "city": location.city,
                }
                statuses = Counter(e.status for e in location.evses or [] if e.status != "REMOVED")
                {
                    **location_key(location.id),
                    "location_id": {"S": location.id},
                    "party_key": {"S": f"{location.country_code}*{location.party_id}"},
                    "country": {"S": location.country},
                    "content_hash": {"S": encoded.content_hash},
                    "shape_hash": {"S": encoded.shape_hash},
                    "last_updated": {"S": format_timestamp(location.last_updated)},
                    "evse_statuses": {"S": json.dumps(dict(statuses), separators=(",", ":"))},
                    "summary": {"S": json.dumps(summary, separators=(",", ":"))},
                    "operator_name": {"S": operator.name if operator else ""},
                    "doc": {"B": zlib.compress(encoded.doc_bytes, 6)},
                }

    def previous_unchanged() -> None:
        for item in json.loads(raw):
            python_checks(item)
            _digest(legacy_canonical(item))

    def previous_changed() -> None:
        for item in json.loads(raw):
            location = python_checks(item)
            _digest(legacy_canonical(item))
            copied = json.loads(json.dumps(item))
            _summary(location)
            zlib.compress(json.dumps(copied, separators=(",", ":"), ensure_ascii=False).encode(), 6)

    def previous_round_unchanged() -> None:
        for item in json.loads(raw):
            _digest(legacy_canonical(item))

    def previous_round_fully_changed() -> None:
        for item in json.loads(raw):
            _digest(legacy_canonical(item))
            _digest(legacy_canonical(_shape(item)))
            location = python_checks(item)
            _summary(location)
            doc, tariffs = _split_tariffs(item)
            {tariff_id: _digest(legacy_canonical(t)) for tariff_id, t in tariffs.items()}
            zlib.compress(legacy_canonical(doc), 6)

    with finite_numbers():
        docs = [encode(item).doc_bytes for item in page]
        # the size of each location item's attributes but its doc (what compress_doc weighs)
        others = [
            item_bytes({k: v for k, v in location_record(python_checks(i), encode(i)).items() if k != "doc"})
            + len("doc")
            for i in page
        ]

    # Each way of compressing the stored documents (store/location_encoding.py: compress_doc):
    # each level alone, and as stored (level 1 of the codec, zlib level 6 where it may save a
    # write unit) with cdk.json location_doc_compression "zstd" (the default) or "zlib".
    ways: dict[str, Callable[[bytes, int], bytes]] = {
        "zlib_level_1": lambda doc, other: zlib.compress(doc, DOC_COMPRESSION),
        "zlib_level_6": lambda doc, other: zlib.compress(doc, DOC_COMPRESSION_TIGHT),
        "zstd_level_1": lambda doc, other: zstd_compress(doc),
        "zlib_as_stored": partial(compress_doc, codec=ZLIB),
        "zstd_as_stored": partial(compress_doc, codec=ZSTD),
    }

    def compressed(compress: Callable[[bytes, int], bytes]) -> Callable[[], object]:
        return lambda: [compress(doc, other) for doc, other in zip(docs, others, strict=True)]

    best = _fastest_interleaved(
        {
            "json_loads": lambda: json.loads(raw),
            "unchanged": unchanged,
            "status_only_changed": status_changed,
            "fully_changed": fully_changed,
            # the same with cdk.json location_doc_compression "zlib" (as before zstd)
            "fully_changed_zlib": lambda: fully_changed(codec=ZLIB),
            "fully_changed_nulls": lambda: fully_changed(with_nulls),
            "fully_changed_nulls_not_known_finite": lambda: fully_changed(with_nulls, False),
            "fully_changed_before_this_round": before_this_round,
            "previous_round_unchanged": previous_round_unchanged,
            "previous_round_fully_changed": previous_round_fully_changed,
            "previous_design_unchanged": previous_unchanged,
            "previous_design_changed": previous_changed,
            **{f"compress_{name}": compressed(compress) for name, compress in ways.items()},
        }
    )
    floor = best.pop("json_loads")
    ratios = {name: round(seconds / floor, 2) for name, seconds in best.items()}

    # A fully changed location's item as DynamoDB sizes it, its doc compressed each way.
    compression = {}
    for name, compress in ways.items():
        blobs = [compress(doc, other) for doc, other in zip(docs, others, strict=True)]
        sizes = [other + len(blob) for other, blob in zip(others, blobs, strict=True)]
        compression[name] = {
            "ratio_vs_json_loads": ratios.pop(f"compress_{name}"),
            "doc_bytes": sum(map(len, blobs)),
            "item_bytes_mean": round(sum(sizes) / len(sizes)),
            "items_over_1kb": sum(s > 1024 for s in sizes),
            "write_units": sum(math.ceil(s / 1024) for s in sizes),
        }
    return {
        "page_locations": len(page),
        "page_bytes": len(raw),
        "json_loads_ms": round(floor * 1000, 2),
        "ratio_vs_json_loads": ratios,
        "targets": {"unchanged": 3.0, "fully_changed": 5.0},
        "stored_doc_compression": {
            "zlib_levels": [DOC_COMPRESSION, DOC_COMPRESSION_TIGHT],
            "zstd_level": ZSTD_LEVEL,
            "uncompressed_bytes": sum(map(len, docs)),
            **compression,
        },
    }


def run() -> dict[str, Any]:
    cost = parse_cost()
    print("\nlocations page of 250, ratio to json.loads:", file=sys.stderr)
    for name, ratio in cost["ratio_vs_json_loads"].items():
        print(f"  {name:<28} {ratio:>5.2f}x", file=sys.stderr)
    return {"page_parse_cost": cost, "full_pulls": full_pulls()}
