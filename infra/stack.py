"""The roam-emp stack: one construct per concern, composed."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from roam_emp import topology

from .api import Api
from .archive import Archive
from .config import StackConfig
from .delivery import Delivery
from .functions import Functions
from .messaging import Messaging
from .observability import Observability
from .secrets import Secrets
from .storage import Storage
from .triggers import Triggers


class RoamEmpStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = Storage(self, "Storage", retain=config.retain_data)
        secrets = Secrets(self, "Secrets", retain=config.retain_data)
        messaging = Messaging(self, "Messaging")
        archive = Archive(self, "Archive", retain=config.retain_data, retention=config.retention)
        functions = Functions(
            self,
            "Functions",
            config=config,
            tables=storage.tables,
            secrets=secrets.secrets,
            buckets=archive.buckets,
            messaging=messaging,
        )
        Delivery(
            self,
            "Delivery",
            functions=functions.functions,
            tables=storage.tables,
            failures=messaging.queues[topology.OUTBOX_FAILURES_QUEUE.key],
        )
        api = Api(self, "Api", functions=functions.api_targets, config=config)
        Triggers(self, "Triggers", config=config, functions=functions.functions, bus=messaging.bus)
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            api=api.rest_api,
            functions=functions.functions,
            dead_letter_queues=messaging.dead_letter_queues,
            log_groups=functions.log_groups,
        )
        base_url = config.public_base_url or api.rest_api.url.rstrip("/")
        CfnOutput(
            self,
            "ApiUrl",
            value=api.rest_api.url,
            description="Base URL of the API (roam-emp register --api ...)",
        )
        CfnOutput(
            self,
            "VersionsUrl",
            value=f"{base_url}/ocpi/versions",
            description="Our OCPI versions URL, for Plugsurfing",
        )
        CfnOutput(
            self,
            "AdminPolicyArn",
            value=api.admin_policy.managed_policy_arn,
            description="Attach to operators who run roam-emp admin commands",
        )
        CfnOutput(
            self,
            "EventBusName",
            value=messaging.bus.event_bus_name,
            description="Where roam-emp publishes its domain events",
        )
