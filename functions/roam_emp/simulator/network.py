"""A generated charging network served the way Roam OCPI serves Locations (FAQ "Retrieving
locations"): several operators and countries, tariffs inlined on connectors and immutable per id,
some locations without a name, and mutations over time (status changes, new and removed locations,
new tariffs) so that delta and full pulls have something to find.

A location's *change time* is the later of its own ``last_updated`` and that of any inlined tariff:
Plugsurfing's deltas include locations whose inlined tariff changed (FAQ).
"""

from __future__ import annotations

import copy
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..ocpi.timestamps import format_timestamp, parse_timestamp

# (country_code, party_id, operator names behind that connection owner, country of the sites)
OPERATORS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("DE", "ION", ("IONITY",), "DEU"),
    ("DE", "EBW", ("EnBW mobility+", "EnBW ODR"), "DEU"),
    ("NL", "ALL", ("Allego",), "NLD"),
    ("NL", "VAT", ("Vattenfall InCharge",), "NLD"),
    ("FR", "TOT", ("TotalEnergies", "TotalEnergies Marketing"), "FRA"),
    ("BE", "BLU", ("Blue Corner",), "BEL"),
    ("AT", "SMA", ("SMATRICS",), "AUT"),
    ("SE", "CLE", ("Clever",), "SWE"),
)
CITIES = {
    "DEU": ("Berlin", "10115"),
    "NLD": ("Amsterdam", "1012 AB"),
    "FRA": ("Paris", "75001"),
    "BEL": ("Brussel", "1000"),
    "AUT": ("Wien", "1010"),
    "SWE": ("Stockholm", "111 20"),
}
CAPABILITIES = ("RFID_READER", "REMOTE_START_STOP_CAPABLE", "CONTACTLESS_CARD_SUPPORT")
STATUSES = ("AVAILABLE", "CHARGING", "AVAILABLE", "OUTOFORDER", "AVAILABLE", "BLOCKED")

DEFECTS = ("opening_times", "related_locations", "connectors", "publish_allowed_to")


@dataclass
class Network:
    size: int = 3000
    seed: int = 1
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    tariffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    cursor_epoch: int = 0  # smart_paging cursors of an older epoch are refused (a dead cursor)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _next_location: int = 0
    _next_tariff: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        base = self.now - timedelta(days=30)
        for _ in range(12):
            self._new_tariff(base)
        for _ in range(self.size):
            self._new_location(base + timedelta(seconds=self.rng.randint(0, 86400 * 20)))

    # Generation -------------------------------------------------------------------------------

    def _new_tariff(self, at: datetime) -> str:
        self._next_tariff += 1
        tariff_id = f"TRF{self._next_tariff:05d}"
        kwh = round(self.rng.uniform(0.29, 0.79), 2)
        self.tariffs[tariff_id] = {
            "country_code": "DE",
            "party_id": "8PS",
            "id": tariff_id,
            "currency": "EUR",
            "type": "REGULAR",
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": kwh, "vat": 19.0, "step_size": 1},
                        {"type": "PARKING_TIME", "price": 6.0, "vat": 19.0, "step_size": 60},
                    ]
                }
            ],
            "last_updated": format_timestamp(at),
        }
        return tariff_id

    def _new_location(self, at: datetime) -> str:
        self._next_location += 1
        n = self._next_location
        country_code, party_id, names, country = OPERATORS[n % len(OPERATORS)]
        city, postal = CITIES[country]
        location_id = f"LOC{n:07d}"
        evses: list[dict[str, Any]] = []
        for e in range(1 + n % 3):
            uid = f"{location_id}-E{e + 1}"
            evses.append(
                {
                    "uid": uid,
                    "evse_id": f"{country_code}*{party_id}*E{n:07d}{e + 1}",
                    "status": self.rng.choice(STATUSES),
                    "capabilities": list(CAPABILITIES[: 1 + (n + e) % 3]),
                    "connectors": [
                        {
                            "id": str(c + 1),
                            "standard": "IEC_62196_T2_COMBO" if (n + c) % 4 == 0 else "IEC_62196_T2",
                            "format": "CABLE" if (n + c) % 4 == 0 else "SOCKET",
                            "power_type": "DC" if (n + c) % 4 == 0 else "AC_3_PHASE",
                            "max_voltage": 400,
                            "max_amperage": 32 if (n + c) % 4 else 200,
                            "tariffs": [],
                            "last_updated": format_timestamp(at),
                        }
                        for c in range(1 + (n + e) % 2)
                    ],
                    "last_updated": format_timestamp(at),
                }
            )
        location: dict[str, Any] = {
            "country_code": country_code,
            "party_id": party_id,
            "id": location_id,
            "publish": True,
            "name": f"{names[0]} {city} {n}",
            "address": f"Hauptstrasse {n % 300 + 1}",
            "city": city,
            "postal_code": postal,
            "country": country,
            "coordinates": {
                "latitude": f"{50 + (n % 1000) / 1000:.6f}",
                "longitude": f"{8 + (n % 777) / 1000:.6f}",
            },
            "parking_type": "ON_STREET",
            "evses": evses,
            "operator": {"name": names[n % len(names)]},
            "time_zone": "Europe/Berlin",
            "last_updated": format_timestamp(at),
        }
        if n % 20 == 0:
            del location["name"]  # optional in OCPI 2.2.1; some Roam OCPI locations lack it
        if n % 97 == 0:  # Plugsurfing's relaxed validation lets such values through
            location["evses"][0]["connectors"][0]["standard"] = "Type2"
            location["address"] = "Gewerbegebiet Nord, Zufahrt über die Industriestrasse, Tor 4, Halle 7"
        self.locations[location_id] = location
        for evse in evses:
            for connector in evse["connectors"]:
                self._assign_tariff(connector, self.rng.choice(list(self.tariffs)))
        return location_id

    def _assign_tariff(self, connector: dict[str, Any], tariff_id: str) -> None:
        connector["tariff_ids"] = [tariff_id]
        connector["tariffs"] = [self.tariffs[tariff_id]]

    # Time and mutations ---------------------------------------------------------------------------

    def tick(self, seconds: float = 1.0) -> datetime:
        """Advance the network's clock (every mutation is stamped strictly later)."""
        with self.lock:
            self.now = max(self.now + timedelta(seconds=seconds), datetime.now(UTC).replace(microsecond=0))
            return self.now

    def mutate(
        self, *, status_changes: int = 0, new: int = 0, removed: int = 0, tariff_changes: int = 0
    ) -> dict[str, list[str]]:
        with self.lock:
            at = self.tick()
            stamp = format_timestamp(at)
            ids = sorted(self.locations)
            changed = self.rng.sample(ids, min(status_changes, len(ids)))
            for location_id in changed:
                location = self.locations[location_id]
                evse = self.rng.choice(location["evses"])
                evse["status"] = "CHARGING" if evse["status"] != "CHARGING" else "AVAILABLE"
                evse["last_updated"] = location["last_updated"] = stamp
            gone = self.rng.sample([i for i in ids if i not in changed], min(removed, len(ids)))
            for location_id in gone:
                del self.locations[location_id]
            added = [self._new_location(at) for _ in range(new)]
            retariffed = []
            if tariff_changes:
                # A new tariff (tariffs are immutable: a price change is a new id, FAQ); the
                # location's own last_updated stays as it was.
                tariff_id = self._new_tariff(at)
                candidates = [i for i in sorted(self.locations) if i not in added]
                for location_id in self.rng.sample(candidates, min(tariff_changes, len(candidates))):
                    connector = self.locations[location_id]["evses"][0]["connectors"][0]
                    self._assign_tariff(connector, tariff_id)
                    retariffed.append(location_id)
            return {"status_changed": changed, "added": added, "removed": gone, "tariff_changed": retariffed}

    def inject_defects(self, location_ids: list[str]) -> dict[str, str]:
        """Malformed optional parts, as a third-party hub sent them (issue 10): each location gets
        one, in turn, and a later ``last_updated`` so a delta sees it."""
        defects: dict[str, str] = {}
        with self.lock:
            stamp = format_timestamp(self.tick())
            for n, location_id in enumerate(location_ids):
                location = self.locations[location_id]
                kind = DEFECTS[n % len(DEFECTS)]
                if kind == "opening_times":
                    location["opening_times"] = {"regular_hours": [{"weekday": 1, "period_begin": "08:00"}]}
                elif kind == "related_locations":
                    location["related_locations"] = [
                        {"latitude": "50.1", "longitude": "8.1", "name": ["Parkhaus", "Eingang Nord"]}
                    ]
                elif kind == "connectors":
                    location["evses"][0]["connectors"] = None
                else:
                    location["publish_allowed_to"] = "everyone"
                location["last_updated"] = stamp
                defects[location_id] = kind
        return defects

    # Reading -------------------------------------------------------------------------------------

    def change_time(self, location: dict[str, Any]) -> datetime:
        """The later of the location's and its inlined tariffs' ``last_updated`` (FAQ "When a CPO
        updates tariffs, will last_updated change on Locations?"), as a time, never a string."""
        stamps: list[str] = [location["last_updated"]]
        for evse in location.get("evses", []):
            for connector in evse.get("connectors") or []:
                stamps += [t["last_updated"] for t in connector.get("tariffs", [])]
        return max(parse_timestamp(s) for s in stamps)

    def page(
        self, *, after: str | None, date_from: str | None, date_to: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None, int]:
        """Keyset page: locations with id > after, changed within [date_from, date_to)."""
        since = parse_timestamp(date_from) if date_from else None
        until = parse_timestamp(date_to) if date_to else None
        with self.lock:
            matching = [
                i
                for i in sorted(self.locations)
                if (since is None or self.change_time(self.locations[i]) >= since)
                and (until is None or self.change_time(self.locations[i]) < until)
            ]
            start = (
                0 if after is None else next((k for k, i in enumerate(matching) if i > after), len(matching))
            )
            chosen = matching[start : start + limit]
            items = [self._served(i) for i in chosen]
            last = chosen[-1] if chosen and start + limit < len(matching) else None
            return items, last, len(matching)

    def _served(self, location_id: str) -> dict[str, Any]:
        location = copy.deepcopy(self.locations[location_id])
        if location_id in self.corrupt:
            location["coordinates"] = "not an object"
            location["last_updated"] = "yesterday"
        return location

    def ids(self) -> list[str]:
        with self.lock:
            return sorted(self.locations)
