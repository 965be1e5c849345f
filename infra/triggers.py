"""What invokes functions besides API Gateway: EventBridge schedules (topology Schedule, the
expression from cdk.json) and rules on our own bus (topology ``on_events``)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from roam_emp import topology

from .config import StackConfig


class Triggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        functions: dict[str, lambda_.Function],
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: list[events.Rule] = []
        for spec in topology.FUNCTIONS:
            function = functions[spec.name]
            for schedule in spec.schedules:
                self.rules.append(
                    events.Rule(
                        self,
                        f"{spec.name}{schedule.name}",
                        description=f"{spec.name}: {dict(schedule.payload)}",
                        schedule=events.Schedule.expression(config.schedule_expression(schedule.setting)),
                        targets=[
                            targets.LambdaFunction(
                                function,
                                event=events.RuleTargetInput.from_object(dict(schedule.payload)),
                                retry_attempts=2,
                                max_event_age=Duration.minutes(10),
                            )
                        ],
                    )
                )
            if spec.on_events:
                self.rules.append(
                    events.Rule(
                        self,
                        f"{spec.name}OnEvents",
                        event_bus=bus,
                        description=f"{spec.name} on {', '.join(spec.on_events)}",
                        event_pattern=events.EventPattern(
                            source=[topology.EVENT_SOURCE], detail_type=list(spec.on_events)
                        ),
                        targets=[
                            targets.LambdaFunction(
                                function, retry_attempts=2, max_event_age=Duration.minutes(30)
                            )
                        ],
                    )
                )
