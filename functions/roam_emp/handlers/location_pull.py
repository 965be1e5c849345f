"""Location pulls: invoked by the EventBridge schedules ({"mode": "delta"|"full"}) and by
``LocationPullRequested`` events on our bus (admin API, or a pull continuing itself)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..config import per_settings, settings
from ..domain.location_pull import LocationPuller, PullOutcome
from ..store.bus import EventPublisher
from ..store.pull_state import PullMode
from ..telemetry import report_deviations
from ..topology import LOCATION_PULL_REQUESTED
from ._runtime import event_entry, logger, metrics

puller = per_settings(LocationPuller.from_settings)


def _detail(event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else event
    return detail or {}


def requested_mode(event: dict[str, Any]) -> PullMode:
    return PullMode(str(_detail(event).get("mode", "delta")))


def record(outcome: PullOutcome) -> None:
    # Every metric name is a custom metric, billed for each hour it receives data (issue 11,
    # docs/cost.md): what a healthy pull says every 2 minutes either is news or stays off.
    if outcome.status != "completed":
        # A completed pull is what LocationCacheAgeSeconds (alarmed) and Lambda's Invocations
        # say already; paused, interrupted, failed, too_soon ... are news.
        metrics.add_metric(name=f"LocationPull_{outcome.status}", unit=MetricUnit.Count, value=1)
    # Not LocationPullPages: a pull's pages are on its log line and in GET /admin/locations/pull.
    run = outcome.run
    if run is not None and outcome.status == "completed":
        for name, value in (
            ("Created", run.created),
            ("Updated", run.updated),
            ("Removed", run.removed),
            ("Rejected", run.rejected),
        ):
            # Not LocationPullSeconds or LocationsUnchanged: Lambda's Duration and the pull's log
            # line say the same. A zero stays off too (the dashboard's sum is the same without
            # it): removals come with the nightly full pull alone, rejections now and then, so
            # LocationsRemoved and LocationsRejected cost a few hours a month, not 720.
            if value:
                metrics.add_metric(name=f"Locations{name}", unit=MetricUnit.Count, value=value)
    if run is not None:
        report_deviations(metrics, outcome.deviations, object_type="Location", object_id=run.run_id)
    if outcome.changed_tariffs:
        # FAQ "How should partners treat tariff IDs?": immutable, so a changed body is news.
        metrics.add_metric(name="TariffChanged", unit=MetricUnit.Count, value=outcome.changed_tariffs)
    status = puller().status()
    if status["cache_age_s"] is not None:
        metrics.add_metric(
            name="LocationCacheAgeSeconds", unit=MetricUnit.Seconds, value=status["cache_age_s"]
        )
    if status["full_pull_age_s"] is not None:
        # Alarmed above 26 h (infra/observability.py): the nightly full pull was missed (issue 10).
        metrics.add_metric(
            name="LocationFullPullAgeSeconds", unit=MetricUnit.Seconds, value=status["full_pull_age_s"]
        )


@event_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _detail(event).get("reset"):
        # An operator's reset (POST /admin/locations/pull/reset, `roam-emp locations reset`).
        closed = puller().reset()
        logger.warning("location pull reset", extra={"closed_run": closed.run_id if closed else None})
        return {"status": "reset", "run": closed.model_dump(mode="json") if closed else None}
    mode = requested_mode(event)
    outcome = puller().run(mode, time_left_s=lambda: context.get_remaining_time_in_millis() / 1000)
    record(outcome)
    logger.info("location pull invocation", extra={"requested": mode, **outcome.summary()})
    if outcome.status in ("paused", "failed") and outcome.run is not None:
        # Out of invocation time mid-pull: continue in a fresh invocation right away. A failed run:
        # start a fresh one (a failed full pull is pending, so the fresh one is full).
        EventPublisher(settings().event_bus_name).publish(
            LOCATION_PULL_REQUESTED, {"mode": outcome.run.mode.value, "resume": outcome.run.run_id}
        )
    return outcome.summary()
