"""What one relay invocation puts on the bus, and in which PutEvents calls (issue 11: EventBridge
bills per entry, and an event per status change cost most of the bus's bill).

Events go in the order of the stream records that announce them, ten to a call and under the 256 KB
limits; the changes of locations' status items ride as entries of as few ``LocationStatusesChanged``
events as fit (docs/events.md). A later change of an item never goes out before an earlier one,
and a call never carries one item twice, so a partly failed call cannot reorder an item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store.bus import detail_json, entry_bytes

Event = tuple[str, dict[str, Any]]
# A location's status item (store/locations.py): its EVSE statuses, rewritten by a status-only change.
STATUSES_CHANGED = "LocationStatusesChanged"
# PutEvents: at most 10 entries a call, and 256 KB for an entry and for a call's entries together,
# counted as store/bus.entry_bytes does (AWS, "Calculating PutEvents event entry size"). The
# margin covers what AWS may count beyond that rule (its API reference speaks of "necessary
# characters and keys of the JSON representation"); an aggregate this size is 4 billed 64 KB chunks.
PUT_EVENTS_MAX_ENTRIES = 10
PUT_EVENTS_MAX_BYTES = 256 * 1024 - 8 * 1024


@dataclass
class Slot:
    """One event to put, with the records it carries (their positions in the batch) and the items
    it concerns (``table/pk``: a location's item and its status item are one)."""

    event: Event
    records: list[int]
    items: set[str]
    size: int


def statuses_event(entries: list[tuple[int, str, dict[str, Any]]]) -> Slot:
    """The ``LocationStatusesChanged`` event carrying these entries. Its key is a hash of theirs:
    a retry of the same batch repeats it; a retry cut differently (from a failed record, or
    bisected) makes other aggregates, so consumers dedupe per entry (docs/events.md)."""
    keys = "\n".join(entry["idempotency_key"] for _, _, entry in entries)
    detail = {
        "idempotency_key": f"{STATUSES_CHANGED}/{hashlib.sha256(keys.encode()).hexdigest()[:32]}",
        "changes": [entry for _, _, entry in entries],
    }
    return Slot(
        (STATUSES_CHANGED, detail),
        [index for index, _, _ in entries],
        {item for _, item, _ in entries},
        entry_bytes(STATUSES_CHANGED, detail),
    )


# The size of a LocationStatusesChanged event without its entries; each entry adds its JSON and
# a separator (json.dumps' ", "), so the aggregate's size is known without serializing it again.
_STATUSES_BASE_BYTES = statuses_event([]).size


class Outgoing:
    """What one batch announces and has not put on the bus yet, in the order it must go: events
    (``pending``) and the open aggregate of status entries, which stays open over the batch and
    is closed (queued behind what is pending) when it is full or when an event of one of its
    items comes: a later change of an item never goes out before an earlier one. A PutEvents call
    never carries one item twice either, so a partly failed call cannot reorder an item."""

    def __init__(self, publish: Callable[[list[Event]], None]) -> None:
        self.publish = publish
        self.pending: list[Slot] = []
        self.entries: list[tuple[int, str, dict[str, Any]]] = []  # the open aggregate
        self.entries_size = _STATUSES_BASE_BYTES

    def add_event(self, index: int, item: str, event: Event) -> None:
        if any(item == held for _, held, _ in self.entries):
            self._close()
        self.pending.append(Slot(event, [index], {item}, entry_bytes(*event)))

    def add_status(self, index: int, item: str, entry: dict[str, Any]) -> None:
        added = len(detail_json(entry).encode()) + (2 if self.entries else 0)
        if self.entries and self.entries_size + added > PUT_EVENTS_MAX_BYTES:
            self._close()
            added -= 2
        self.entries.append((index, item, entry))
        self.entries_size += added

    def _close(self) -> None:
        if self.entries:
            self.pending.append(statuses_event(self.entries))
        self.entries, self.entries_size = [], _STATUSES_BASE_BYTES

    def full(self) -> bool:
        """Enough is pending to fill a PutEvents call."""
        return (
            len(self.pending) >= PUT_EVENTS_MAX_ENTRIES
            or sum(s.size for s in self.pending) >= PUT_EVENTS_MAX_BYTES
        )

    def put(self, *, final: bool = False) -> int | None:
        """Put what is pending (``final``: the open aggregate too), call by call in order,
        stopping at the first call that fails: then the earliest record not relayed."""
        if final:
            self._close()
        for call in self._calls():
            try:
                self.publish([slot.event for slot in call])
            except Exception:
                waiting = [i for slot in self.pending for i in slot.records]
                return min(waiting + [i for i, _, _ in self.entries])
            del self.pending[: len(call)]
        return None

    def _calls(self) -> list[list[Slot]]:
        calls: list[list[Slot]] = []
        call: list[Slot] = []
        for slot in self.pending:
            if call and (
                len(call) == PUT_EVENTS_MAX_ENTRIES
                or sum(s.size for s in call) + slot.size > PUT_EVENTS_MAX_BYTES
                or any(slot.items & s.items for s in call)
            ):
                calls.append(call)
                call = []
            call.append(slot)
        return [*calls, call] if call else calls
