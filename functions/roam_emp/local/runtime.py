"""Local mode: start moto, create the resources, serve the handlers, optionally start the
simulator and register with it. Used by `roam-emp local`, `roam-emp demo` and the tests."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import httpx

from .. import topology
from ..config import reset as reset_settings
from .events_tap import EventsTap
from .faults import AwsFaults
from .gateway import GatewayServer, LocalGateway
from .invoker import Invoker, context_for
from .log_shipper import LogShipper
from .moto_server import MotoServer
from .provision import LocalNames, apply, provision
from .triggers import LocalTriggers, provision_event_rules

# Schedule settings in local mode (cdk.json context in AWS), overridable through the environment.
LOCAL_SCHEDULE_SETTINGS = {
    "location_delta_pull_minutes": "2",
    "location_full_pull_cron": "cron(30 2 * * ? *)",
    "command_timeout_sweep_minutes": "0.25",  # the commands' timer: every 15 s locally
}


def local_setting(name: str) -> Any:
    value = os.environ.get(name.upper(), LOCAL_SCHEDULE_SETTINGS[name])
    return float(value) if value.replace(".", "", 1).isdigit() else value


DEFAULT_ENV = {
    "ROAM_EMP_COUNTRY_CODE": "NL",
    "ROAM_EMP_PARTY_ID": "EMP",
    "ROAM_EMP_BUSINESS_NAME": "Example EMP (local)",
    "ROAM_EMP_ENVIRONMENT": "local",
    "POWERTOOLS_SERVICE_NAME": "roam-emp",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "RoamEmp",
}


@dataclass
class LocalRuntime:
    port: int = 0
    log_level: str = "WARNING"
    metrics: bool = False
    schedules: bool = True
    queue_visibility_s: int = 6  # longer than any local batch takes, or FIFO order could break
    ship_logs: bool = True  # handlers' lines to moto's CloudWatch Logs (the support bundle reads them)
    events_out: str | None = None  # append every event reaching our bus to this file (JSON lines)
    faults: AwsFaults | None = None  # injected failures of our functions' AWS calls (local/faults.py)
    tap: EventsTap | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    moto: MotoServer | None = None
    gateway: GatewayServer | None = None
    triggers: LocalTriggers | None = None
    shipper: LogShipper | None = None
    invoker: Invoker = field(default_factory=Invoker)
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> LocalRuntime:
        self.moto = MotoServer().start()
        self.gateway = GatewayServer(self.port, LocalGateway(self.invoker))
        env = {
            **DEFAULT_ENV,
            "POWERTOOLS_LOG_LEVEL": self.log_level,
            "POWERTOOLS_METRICS_DISABLED": "false" if self.metrics else "true",
            "PUBLIC_BASE_URL": self.gateway.url,
            **self.extra_env,
        }
        os.environ.update(env)
        names = LocalNames()
        env.update(provision(names, queue_visibility_s=self.queue_visibility_s))
        apply(env)
        reset_settings()
        self.env = env
        if self.ship_logs:
            self.shipper = LogShipper(
                {context_for(f).function_name: names.log_group(f) for f in topology.FUNCTIONS}
            ).start()
            _attach(self.shipper, self.log_level)
        self.triggers = LocalTriggers(
            self.invoker,
            provision_event_rules(env["EVENT_BUS_NAME"]),
            local_setting,
            run_schedules=self.schedules,
            consumer_queues={q.key: env[q.env_var] for q in topology.QUEUES},
            stream_tables={t.key: env[t.env_var] for t in topology.TABLES if t.stream},
            failure_queue_url=env[topology.OUTBOX_FAILURES_QUEUE.env_var],
        )
        if self.events_out:
            self.tap = EventsTap(self.events_out).install()
        if self.faults:
            self.faults.install()  # after provisioning: AWS itself does not fail to create things
        self.triggers.start()
        self.gateway.start()
        return self

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    def admin(self, method: str, path: str, body: Any = None, timeout: float = 60) -> httpx.Response:
        """Call our admin API (open on 127.0.0.1 in local mode; IAM-authorised in AWS)."""
        return httpx.request(method, f"{self.url}{path}", json=body, timeout=timeout)

    def stop(self) -> None:
        if self.faults:
            self.faults.uninstall()
        if self.tap:
            self.tap.uninstall()
        if self.triggers:
            self.triggers.stop()
        if self.gateway:
            self.gateway.stop()
        if self.shipper:
            _detach(self.shipper)
            self.shipper.stop()
        if self.moto:
            self.moto.stop()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _attach(shipper: LogShipper, console_level: str) -> None:
    """Ship INFO and above while the console keeps showing ``console_level`` and above."""
    from ..handlers._runtime import logger

    shipper.restore_levels = (logger.log_level, logger.registered_handler.level)
    logger.registered_handler.setLevel(console_level.upper())
    logger.setLevel(min(logging.INFO, logging.getLevelName(console_level.upper())))
    shipper.setFormatter(logger.registered_formatter)
    logger.addHandler(shipper)


def _detach(shipper: LogShipper) -> None:
    from ..handlers._runtime import logger

    logging.getLogger(logger.name).removeHandler(shipper)
    logger.setLevel(shipper.restore_levels[0])
    logger.registered_handler.setLevel(shipper.restore_levels[1])
