from __future__ import annotations

import copy

from aws_lambda_powertools import Metrics

from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.leniency import parse_inbound
from roam_emp.telemetry import report_deviations

from .helpers import example


def test_deviations_become_one_metric() -> None:
    raw = copy.deepcopy(example("cdr_example.json"))
    raw["cdr_location"]["address"] = "A" * 180
    raw["cdr_location"]["connector_standard"] = "Type2"
    _, deviations = parse_inbound(Cdr, raw)
    metrics = Metrics(namespace="RoamEmpTest", service="test")
    metrics.clear_metrics()  # Powertools keeps one metric set per process
    report_deviations(metrics, deviations, object_type="Cdr", object_id=raw["id"])
    emf = metrics.serialize_metric_set()
    # One custom metric for every kind (each metric name is billed: issue 11); kinds are logged.
    assert emf["OcpiDeviations"] == [2.0]
    assert not [name for name in emf if name.startswith("OcpiDeviations_")]
    metrics.clear_metrics()
