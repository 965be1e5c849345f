"""The timer of remote commands (scheduled): a command without a CommandResult by its due time is
marked TIMEOUT in the store, and the CommandResultReceived event follows from the table's stream,
whether or not anybody reads the command."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..config import per_settings
from ..domain.commands import CommandService
from ._runtime import event_entry, logger, metrics

service = per_settings(CommandService.from_settings)


@event_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    timed_out = service().time_out_overdue()
    if timed_out:
        metrics.add_metric(name="CommandTimeouts", unit=MetricUnit.Count, value=len(timed_out))
        logger.info("commands timed out", extra={"command_ids": timed_out})
    return {"timed_out": timed_out}
