"""Powertools Tracer (X-Ray subsegments for boto3 and httpx calls)."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer()
