"""What our logs and metrics say about OCPI objects.

- Support keys: the FAQ's support fields ("What information should partners include when raising
  support issues?") read from a Session or CDR as received, to bind to every log line about it.
- Deviation reporting: every inbound object that departs from OCPI 2.2.1 is counted in one metric
  (``OcpiDeviations``) and logged with the kinds and the object's id, never refused (ocpi/leniency.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .ocpi.jsondoc import escape_lone_surrogates
from .ocpi.leniency import DeviationLog

logger = Logger(child=True)


def support_keys(raw: Any) -> dict[str, Any]:
    """Token uid and contract id, CPO, location and EVSE of a Session or CDR body (lenient: any
    field may be missing or malformed, the keys are for people reading logs)."""
    if not isinstance(raw, dict):
        return {}

    def part(name: str) -> dict[str, Any]:
        value = raw.get(name)
        return value if isinstance(value, dict) else {}

    token, where = part("cdr_token"), part("cdr_location")
    keys = {
        "cpo": f"{raw['country_code']}*{raw['party_id']}"
        if "country_code" in raw and "party_id" in raw
        else None,
        "token_uid": token.get("uid"),
        "contract_id": token.get("contract_id"),
        "location_id": raw.get("location_id") or where.get("id"),
        "evse_uid": raw.get("evse_uid") or where.get("evse_uid"),
    }
    # Powertools writes log lines as UTF-8 (ensure_ascii=False): a lone surrogate would make the
    # line unwritable and lost, so it goes in as its JSON escape (ocpi/jsondoc.py).
    return {
        k: escape_lone_surrogates(v) if isinstance(v, str) else v for k, v in keys.items() if v is not None
    }


def report_deviations(
    metrics: Metrics, deviations: DeviationLog, *, object_type: str, object_id: str | None
) -> None:
    if not deviations:
        return
    by_kind = deviations.by_kind()
    # One metric, not one per kind: each metric name is a billed custom metric (issue 11,
    # docs/cost.md); the kinds are on the log line.
    metrics.add_metric(name="OcpiDeviations", unit=MetricUnit.Count, value=sum(by_kind.values()))
    logger.info(
        "inbound object deviates from OCPI 2.2.1 (kept)",
        extra={
            "object_type": object_type,
            "object_id": object_id,
            "deviation_kinds": by_kind,
            "deviations": [f"{d.where}: {d.kind} ({d.detail})" for d in deviations.items[:20]],
            "deviation_count": len(deviations),
        },
    )
