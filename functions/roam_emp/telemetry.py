"""Deviation reporting: every inbound object that departs from OCPI 2.2.1 is counted as a metric
(``OcpiDeviations`` by kind) and logged with the object's id, never refused (ocpi/leniency.py)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .ocpi.leniency import DeviationLog

logger = Logger(child=True)


def report_deviations(
    metrics: Metrics, deviations: DeviationLog, *, object_type: str, object_id: str | None
) -> None:
    if not deviations:
        return
    for kind, count in deviations.by_kind().items():
        metrics.add_metric(name=f"OcpiDeviations_{kind}", unit=MetricUnit.Count, value=count)
    logger.info(
        "inbound object deviates from OCPI 2.2.1 (kept)",
        extra={
            "object_type": object_type,
            "object_id": object_id,
            "deviations": [f"{d.where}: {d.kind} ({d.detail})" for d in deviations.items[:20]],
            "deviation_count": len(deviations),
        },
    )
