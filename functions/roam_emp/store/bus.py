"""Our domain events on the project's EventBridge bus, for the EMP's other systems.

Every event has source ``roam-emp`` and a ``detail-type`` naming what happened in OCPI's words
(``HubRegistered``, ``LocationUpserted``, ``CdrReceived``...); docs/events.md has the catalogue.
"""

from __future__ import annotations

import json
from typing import Any

from ..topology import EVENT_SOURCE as SOURCE
from . import aws


def detail_json(detail: dict[str, Any]) -> str:
    """An event's Detail as it is put on the bus."""
    return json.dumps(detail, default=str)


def entry_bytes(detail_type: str, detail: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it against its 256 KB limits (AWS, "Calculating
    PutEvents event entry size"): Source, DetailType and Detail in UTF-8 (we set no Time and no
    Resources)."""
    return len(SOURCE.encode()) + len(detail_type.encode()) + len(detail_json(detail).encode())


class EventPublisher:
    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_many([(detail_type, detail)])

    def publish_many(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        # PutEvents takes at most 10 entries per call.
        for start in range(0, len(events), 10):
            chunk = events[start : start + 10]
            result = aws.events().put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": detail_type,
                        "Detail": detail_json(detail),
                        "EventBusName": self.bus_name,
                    }
                    for detail_type, detail in chunk
                ]
            )
            if result.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused {result['FailedEntryCount']} event(s)")
