"""The Powertools objects every entry point uses (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# A request that records no business metric is normal (e.g. GET /ocpi/versions).
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="RoamEmp")
