"""The Powertools objects every entry point uses (service name from POWERTOOLS_SERVICE_NAME).

The X-Ray tracer lives in ``_tracing`` because importing the X-Ray SDK costs ~90 ms of cold start:
the authorize entry point (Plugsurfing waits 1-10 s for it) relies on Lambda's own active tracing
instead.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from ..config import settings

# A request that records no business metric is normal (e.g. GET /ocpi/versions).
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
metrics = Metrics(namespace="RoamEmp")


def with_metrics(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``metrics.log_metrics``, plus: when metrics are disabled (local mode), drop what was
    recorded, or Powertools would print it anyway once 100 values pile up."""
    logged = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        try:
            return logged(event, context)
        finally:
            if is_metrics_disabled():
                metrics.clear_metrics()

    return wrapper


def with_fresh_log_keys(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Every invocation starts with only its own log keys: Lambda reuses the logger across
    invocations, so a key appended for one session or CDR would otherwise land on the next
    request's lines and send support to the wrong session. ``environment`` is on every line
    (FAQ "What information should partners include when raising support issues?")."""

    @logger.inject_lambda_context(clear_state=True)
    @functools.wraps(handler)
    def bound(event: Any, context: Any) -> Any:
        # Per-invocation keys are context-local (thread-safe keys): in Lambda one invocation runs
        # at a time anyway; in local mode several functions share this logger in one process, and
        # one invocation's clear_state must not wipe another's session or CDR ids.
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(environment=settings().environment)
        return handler(event, context)

    return bound


def event_entry(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The Lambda entry point of a queue or schedule function: fresh log keys, X-Ray, metrics."""
    from ._tracing import tracer

    return with_metrics(tracer.capture_lambda_handler(with_fresh_log_keys(handler)))


def rest_entry(dispatch: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The Lambda entry point of an HTTP function that answers API Gateway's events itself, without
    a Powertools resolver (authorize: api/rest.py says why): the same log keys, access line and
    metrics as :func:`http_entry`, and no X-Ray SDK (Lambda's active tracing instead)."""
    from ..api.rest import lambda_entry

    return with_metrics(with_fresh_log_keys(lambda_entry(dispatch, logger)))


def http_entry(app: Any, *, traced: bool = True) -> Callable[[Any, Any], Any]:
    """The Lambda entry point of an HTTP function: fresh log keys with the OCPI ids bound, one
    access line per request, metrics flushed, X-Ray (unless ``traced=False``: the authorize hot
    path skips the X-Ray SDK's import)."""
    from ..api.http import lambda_entry

    entry: Callable[[Any, Any], Any] = with_fresh_log_keys(lambda_entry(app, logger))
    if traced:
        from ._tracing import tracer

        entry = tracer.capture_lambda_handler(entry)
    return with_metrics(entry)
