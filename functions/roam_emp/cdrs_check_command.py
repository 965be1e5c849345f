"""`roam-emp cdrs check FILE.json`: the cost check of any CDR JSON, offline (no stack, no local
mode): priced with the tariffs the CDR carries, restrictions read in `--time-zone`."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .domain.pricing import recompute
from .domain.pricing.table import render
from .ocpi.cdrs import Cdr
from .ocpi.leniency import parse_inbound


def _load(path: Path) -> Any:
    raw = json.loads(path.read_text())
    # An OCPI response saved whole ({"data": {...}, "status_code": 1000}) is accepted too.
    if isinstance(raw, dict) and "data" in raw and "id" not in raw:
        raw = raw["data"]
    return raw


def _cached_time_zone(api: str, region: str | None, location_id: str) -> str | None:
    """The cached location's time_zone from a stack's admin API (None when it is not cached)."""
    from urllib.parse import quote

    from .admin_client import AdminClient, AdminError

    try:
        location = AdminClient(api, region).call("GET", f"/admin/locations/{quote(location_id, safe='')}")
    except AdminError:
        return None
    zone = location.get("time_zone") if isinstance(location, dict) else None
    return zone if isinstance(zone, str) else None


def cmd_cdrs_check(args: argparse.Namespace) -> int:
    try:
        tolerance = Decimal(args.tolerance)
        cdr, _ = parse_inbound(Cdr, _load(Path(args.file)))
    except (OSError, ValueError, InvalidOperation) as error:  # ValidationError is a ValueError
        detail = error.errors()[0] if isinstance(error, ValidationError) else error
        print(f"error: {args.file}: {detail}", file=sys.stderr)
        return 2
    time_zone = args.time_zone
    if time_zone is None and args.api:
        time_zone = _cached_time_zone(args.api, args.region, cdr.cdr_location.id)
    verdict = recompute(cdr, tolerance, time_zone=time_zone)
    if args.json:
        print(json.dumps(verdict.as_dict(), indent=2))
    else:
        title = (
            f"CDR {cdr.country_code}/{cdr.party_id}/{cdr.id}: {cdr.start_date_time.isoformat()} to "
            f"{cdr.end_date_time.isoformat()}, location {cdr.cdr_location.id}"
        )
        print(render(verdict, title))
    return 0


def add_parser(sub: Any) -> Any:
    """Register the `cdrs` group with `check`; returns the group for the admin commands (cli.py)."""
    cdrs = sub.add_parser("cdrs", help="CDR tools")
    cdrs_sub = cdrs.add_subparsers(dest="cdrs_command", required=True)
    check = cdrs_sub.add_parser(
        "check", help="recompute a CDR's cost from its tariffs and periods (offline) and give the verdict"
    )
    check.add_argument("file", help="the CDR as JSON (an OCPI response envelope is accepted)")
    check.add_argument(
        "--time-zone", help="the location's IANA time zone, e.g. Europe/Amsterdam (restrictions are local)"
    )
    check.add_argument("--tolerance", default="0.01", help="difference still counted as OK (currency units)")
    check.add_argument("--json", action="store_true", help="print the whole result as JSON")
    check.add_argument(
        "--api", help="without --time-zone: take the cached location's time zone from this stack's admin API"
    )
    check.add_argument("--region")
    check.set_defaults(func=cmd_cdrs_check)
    return cdrs_sub
