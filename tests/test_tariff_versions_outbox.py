"""The locations table's stream announces each new tariff version once (domain/outbox.py; FAQ
"How should partners treat tariff IDs?": immutable, so a new body under a known id is news)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from roam_emp.domain.outbox import OutboxRelay
from roam_emp.store.streams import Change

TARIFF = {"id": "TRF1", "currency": "EUR", "last_updated": "2026-01-01T00:00:00Z"}


def change(sk: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> Change:
    return Change(
        "locations", "MODIFY" if old else "INSERT", {"pk": {"S": "TRF#TRF1"}, "sk": {"S": sk}}, old, new, "1"
    )


def item(content_hash: str, first: bool | None = None) -> dict[str, Any]:
    image: dict[str, Any] = {
        "tariff_id": {"S": "TRF1"},
        "content_hash": {"S": content_hash},
        "doc": {"B": zlib.compress(json.dumps(TARIFF).encode())},
    }
    if first is not None:
        image["first_version"] = {"BOOL": first}
    return image


def test_one_event_per_new_version_none_for_the_current_pointer() -> None:
    relay = OutboxRelay.__new__(OutboxRelay)  # the translation needs none of its clients
    added = relay.location_change(change("V#aaa", item("aaa", first=True)))
    assert [kind for kind, _ in added] == ["TariffAdded"]
    changed = relay.location_change(change("V#bbb", item("bbb", first=False)))
    assert [kind for kind, _ in changed] == ["TariffChanged"]
    assert changed[0][1]["idempotency_key"] == "TariffChanged/TRF1/bbb"
    # The current item moving to version bbb, and a version rewritten as it was: nothing more.
    assert relay.location_change(change("T", item("bbb"), old=item("aaa"))) == []
    assert relay.location_change(change("T", item("aaa"))) == []
    assert relay.location_change(change("V#bbb", item("bbb", False), old=item("bbb", False))) == []
