"""Tokens and real-time authorization benchmarks (issue 4).

1. Authorize latency p50/p99: the handler in process (moto in process) and through the local
   gateway (HTTP, moto server), and the AWS calls per decision.
2. Cold-start proxy: import time of the authorize Lambda's module in a fresh interpreter.
3. Pushing N tokens (default 10,000) through the SQS FIFO queue to a simulator that enforces
   Plugsurfing's 3,000 requests per minute: tokens per minute, and the simulator's 429 count.
4. Token push per consumer instance, hub limit lifted (issue 11): tokens/min of one TokenPusher
   with one HTTP client per container, beside a new client per token, interleaved in blocks.
5. A fleet of N consumers (token_push_max_concurrency) sharing the DynamoDB limiter, pushing a
   10,000-token load to the simulator at Plugsurfing's 3,000/min: the overall rate and the 429s
   (bench/token_fleet.py).

``BENCH_TOKEN_PARTS`` (comma-separated: authorize, gateway, instance, fleet) runs some of them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from . import token_fleet
from .aws_calls import counting
from .harness import as_hub, register_with
from .token_load import store_tokens

ROOT = Path(__file__).resolve().parents[1]
TOKENS = int(os.environ.get("BENCH_TOKENS", "10000"))
LIMITED_TOKENS = int(os.environ.get("BENCH_LIMITED_TOKENS", "1500"))
# The producer keeps at most this many tokens queued and not yet at the simulator. moto's SQS scans
# the whole queue on every send, receive and delete (O(n) per call, moto 5.2 sqs/models.py), so a
# 10,000-message backlog would measure moto's quadratic cost, not our consumer; real SQS has no
# such cost, and the limiter sees the same steady demand either way.
BACKLOG = int(os.environ.get("BENCH_TOKEN_BACKLOG", "300"))


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "n": len(ordered),
    }


def import_time() -> dict[str, Any]:
    code = (
        "import time; t = time.perf_counter(); import roam_emp.handlers.ocpi_authorize; "
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(  # noqa: S603 - our own interpreter, fixed code
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
        )
        for _ in range(5)
    ]
    return {
        "authorize_module_import_ms_median": round(statistics.median(runs) * 1000, 1),
        "runs_ms": [round(r * 1000) for r in runs],
        "target_ms": 400,
    }


def authorize_in_process() -> dict[str, Any]:
    from moto import mock_aws

    from roam_emp import config, topology
    from roam_emp.local.invoker import context_for, load_handler
    from roam_emp.local.provision import LocalNames, apply, provision
    from roam_emp.ocpi.auth_header import encode_token
    from roam_emp.store import aws
    from roam_emp.store.credentials import CredentialsVault, HubTokens
    from roam_emp.store.tokens import TokenStore

    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_REGION": "eu-central-1",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "PUBLIC_BASE_URL": "https://emp.example.com",
        }
    )
    aws.reset()
    config.reset()
    try:
        with mock_aws():
            apply(provision(LocalNames(prefix="bench")))
            config.reset()
            CredentialsVault(os.environ[topology.HUB_CREDENTIALS.env_var]).put(HubTokens(inbound="bench"))
            TokenStore(os.environ[topology.TOKENS_TABLE.env_var]).save_queued(
                {
                    "country_code": "NL",
                    "party_id": "EMP",
                    "uid": "BENCH1",
                    "type": "RFID",
                    "contract_id": "NLEMPC00000001",
                    "issuer": "x",
                    "valid": True,
                    "whitelist": "ALLOWED_OFFLINE",
                    "last_updated": "2026-01-01T00:00:00Z",
                }
            )
            function = next(f for f in topology.FUNCTIONS if f.name == "OcpiAuthorize")
            handler = load_handler(function.handler)
            event = json.loads(
                (ROOT / "events/OcpiAuthorize/post_ocpi_221_tokens_token_uid_authorize.json").read_text()
            )
            event["path"] = "/ocpi/2.2.1/tokens/BENCH1/authorize"
            event["pathParameters"] = {"token_uid": "BENCH1"}
            event["headers"]["Authorization"] = encode_token("bench")
            event["multiValueHeaders"]["Authorization"] = [encode_token("bench")]
            for _ in range(20):
                handler(dict(event), context_for(function))
            samples = []
            with counting() as calls:
                for _ in range(500):
                    started = time.perf_counter()
                    answer = handler(dict(event), context_for(function))
                    samples.append(time.perf_counter() - started)
            assert answer["statusCode"] == 200, answer
            per = {k: round(v / 500, 2) for k, v in calls.items()}
            reads = sum(v for k, v in per.items() if k.split(":")[1] in ("GetItem", "Query", "BatchGetItem"))
            return {**_percentiles(samples), "aws_calls_per_decision": per, "reads_per_decision": reads}
    finally:
        os.environ.clear()
        os.environ.update(saved)
        aws.reset()
        config.reset()


def through_gateway_and_token_push() -> dict[str, Any]:
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator

    with (
        LocalRuntime(log_level="ERROR", schedules=False, ship_logs=False) as runtime,
        RoamSimulator() as simulator,
    ):
        register_with(runtime, simulator)
        http = httpx.Client(base_url=runtime.url, timeout=60)
        http.post("/admin/tokens", json={"uid": "GW1", "type": "RFID", "contract_id": "NLEMPC00000001"})
        ocpi = as_hub(runtime, simulator)
        for _ in range(20):
            ocpi.post("/ocpi/2.2.1/tokens/GW1/authorize?type=RFID")
        samples = []
        for _ in range(300):
            started = time.perf_counter()
            ocpi.post("/ocpi/2.2.1/tokens/GW1/authorize?type=RFID").raise_for_status()
            samples.append(time.perf_counter() - started)
        gateway_result = _percentiles(samples)
        limited = push_tokens(runtime, simulator, "L", LIMITED_TOKENS, sim_limit=600, our_limit=580)
        full_speed = push_tokens(runtime, simulator, "F", TOKENS, sim_limit=3000, our_limit=2900)
        return {
            "authorize_through_local_gateway": gateway_result,
            "token_push_limiter_bound": limited,
            "token_push_full_speed": full_speed,
        }


def push_tokens(
    runtime: Any, simulator: Any, prefix: str, count: int, *, sim_limit: int, our_limit: int
) -> dict[str, Any]:
    """``count`` tokens straight onto the SQS FIFO queue (a supported producer path, the same JSON
    as the admin API) -> consumer -> a simulator enforcing ``sim_limit`` requests per minute,
    with our shared limiter set to ``our_limit``."""
    from roam_emp import config, topology

    os.environ["HUB_REQUESTS_PER_MINUTE"] = str(our_limit)
    # the interactive reserve in the stack's proportion (200 of 2,900): bulk pushes leave it
    os.environ["HUB_INTERACTIVE_RESERVE_PER_MINUTE"] = str(round(our_limit * 200 / 2900))
    config.reset()
    httpx.post(f"{simulator.url}/_sim/chaos", json={"per_minute": sim_limit}).raise_for_status()
    # The producer waits patiently: moto, the simulator and the consumers share this one process.
    import boto3
    from botocore.config import Config

    sqs = boto3.client(
        "sqs", config=Config(read_timeout=120, retries={"mode": "standard", "max_attempts": 10})
    )
    queue_url = runtime.env[topology.TOKEN_PUSH_QUEUE.env_var]
    rejected_before = simulator.state.rejected_429

    def pushed() -> int:
        return sum(1 for k in list(simulator.state.tokens) if k.startswith(f"NL/EMP/RFID/{prefix}"))

    started = time.perf_counter()
    deadline = time.time() + 3 * 3600
    for first in range(0, count, 10):
        while first - pushed() >= BACKLOG and time.time() < deadline:
            time.sleep(0.2)
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageGroupId": f"RFID#{prefix}{i:07d}",
                    "MessageDeduplicationId": f"{prefix}{i:07d}",
                    "MessageBody": json.dumps(
                        {"uid": f"{prefix}{i:07d}", "type": "RFID", "contract_id": f"NLEMP{prefix}{i:08d}"}
                    ),
                }
                for i in range(first, min(first + 10, count))
            ],
        )
    queued_s = time.perf_counter() - started
    while (done := pushed()) < count and time.time() < deadline:
        time.sleep(1)
    elapsed = time.perf_counter() - started
    return {
        "tokens": count,
        "pushed": done,
        "producer_backlog_limit": BACKLOG,
        "queued_in_s": round(queued_s, 1),
        "all_pushed_in_s": round(elapsed, 1),
        "tokens_per_minute": round(done / elapsed * 60),
        "simulator_limit_per_minute": sim_limit,
        "our_limit_per_minute": our_limit,
        "simulator_429s": simulator.state.rejected_429 - rejected_before,
    }


INSTANCE_TOKENS = int(os.environ.get("BENCH_INSTANCE_TOKENS", "600"))


def _registered_runtime() -> Any:
    from contextlib import ExitStack

    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator

    stack = ExitStack()
    runtime = stack.enter_context(LocalRuntime(log_level="ERROR", schedules=False, ship_logs=False))
    simulator = stack.enter_context(RoamSimulator())
    register_with(runtime, simulator)
    import logging

    logging.disable(logging.INFO)  # two INFO lines per push would be measured too
    if runtime.triggers:
        # The parts drive the consumer directly; the local stream consumer (the OutboxRelay, a
        # Lambda of its own in AWS) would otherwise share this interpreter with it.
        runtime.triggers.stop()
    return stack, runtime, simulator


def push_per_instance() -> dict[str, Any]:
    """One consumer, hub limit lifted (simulator and limiter at 10^9/min: the limiter's two
    DynamoDB updates per push are still paid). Blocks of 50 alternate between a client per
    token (the old code: open, push, close) and one client per container."""
    from roam_emp import config
    from roam_emp.domain.tokens import TokenPusher
    from roam_emp.hub.rate_limit import HubRateLimiter, Share

    stack, _, simulator = _registered_runtime()
    with stack:
        httpx.post(f"{simulator.url}/_sim/chaos", json={"per_minute": 10**9}).raise_for_status()
        settings = config.settings()
        pusher = TokenPusher.from_settings(settings, max_receive_count=5)
        pusher.limiter = HubRateLimiter(
            settings.state_table, per_minute=10**9, per_day=10**9, share=Share.BULK
        )
        bodies = store_tokens(pusher, "I", INSTANCE_TOKENS)
        pusher.handle(bodies.pop())  # warm: endpoint and secret caches
        modes = ("client_per_token", "client_per_container")
        elapsed = dict.fromkeys(modes, 0.0)
        cpu = dict.fromkeys(modes, 0.0)
        own = dict.fromkeys(modes, 0.0)
        pushed = dict.fromkeys(modes, 0)
        for block, start in enumerate(range(0, len(bodies), 50)):
            mode = modes[block % 2]
            started, cpu_started, own_started = time.perf_counter(), time.process_time(), time.thread_time()
            for body in bodies[start : start + 50]:
                assert pusher.handle(body) == "pushed"
                if mode == "client_per_token":
                    pusher.close()
                pushed[mode] += 1
            elapsed[mode] += time.perf_counter() - started
            cpu[mode] += time.process_time() - cpu_started
            own[mode] += time.thread_time() - own_started
        per_min = {mode: round(pushed[mode] / elapsed[mode] * 60) for mode in modes}
        cpu_ms = {mode: round(cpu[mode] / pushed[mode] * 1000, 2) for mode in modes}
        return {
            "tokens": sum(pushed.values()),
            "tokens_per_minute": per_min,
            "ms_per_token": {mode: round(elapsed[mode] / pushed[mode] * 1000, 2) for mode in modes},
            # CPU of the whole process (consumer, moto server, simulator) per token: what one core
            # would sustain, less sensitive to other work on the machine than the wall clock.
            "cpu_ms_per_token_all_parts": cpu_ms,
            "tokens_per_minute_one_free_core": {mode: round(60_000 / cpu_ms[mode]) for mode in modes},
            # The consumer's own thread only: what a TokenPush instance spends, without moto,
            # the simulator and the local stream consumer (separate services in AWS).
            "consumer_cpu_ms_per_token": {mode: round(own[mode] / pushed[mode] * 1000, 2) for mode in modes},
            "client_per_container_speedup": round(
                per_min["client_per_container"] / per_min["client_per_token"], 2
            ),
            "target_tokens_per_minute": 2000,
            "load_average_1min": round(os.getloadavg()[0], 1),
            "aws": "moto server over HTTP in this process (stands in for DynamoDB and Secrets Manager)",
        }


def run() -> dict[str, Any]:
    parts = set(os.environ.get("BENCH_TOKEN_PARTS", "authorize,gateway,instance,fleet").split(","))
    results: dict[str, Any] = {}
    if "authorize" in parts:
        results |= {"import_time": import_time(), "authorize_in_process": authorize_in_process()}
    if "gateway" in parts:
        results |= through_gateway_and_token_push()
    if "instance" in parts:
        results["token_push_per_instance"] = push_per_instance()
    if "fleet" in parts:
        results["token_push_fleet"] = token_fleet.push_fleet()
    # Parts not run keep their last numbers (bench/__main__.py replaces the whole section).
    latest = Path(__file__).resolve().parent / "results" / "latest.json"
    kept = json.loads(latest.read_text()).get("tokens", {}) if latest.exists() else {}
    kept.pop("measured_at", None)
    return {**kept, **results}
