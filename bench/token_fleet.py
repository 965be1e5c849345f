"""Token push by a fleet of consumers (issue 4, issue 11): N consumers (token_push_max_concurrency)
sharing the DynamoDB limiter push a 10,000-token load to the simulator at Plugsurfing's 3,000/min:
the overall rate and the 429s. Part ``fleet`` of ``python -m bench tokens`` (bench/tokens.py).

The fleet drives the domain push code (TokenPusher, the handler's hand-back rule) directly, with an
in-process stand-in for the queue: moto's SQS costs O(queue length) per call, which would measure
moto, not us. Each consumer is a process of its own (spawned, as separate Lambda instances are), the
simulator runs as ``roam-emp simulator`` in a process of its own; ``BENCH_FLEET_DYNAMODB=local``
sends the DynamoDB calls to DynamoDB Local instead of moto's server (docs/tokens.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from roam_emp import topology

from .harness import register
from .token_load import store_tokens

FLEET_TOKENS = int(os.environ.get("BENCH_FLEET_TOKENS", "10000"))
FLEET_SIZE = int(os.environ.get("BENCH_FLEET_SIZE", "3"))  # cdk.json token_push_max_concurrency
# 1 = Plugsurfing's 3,000/min and our defaults (2,900/min, 200 kept for interactive calls); a
# smaller scale shrinks the load and every budget alike, for a machine that cannot push 50/s.
FLEET_SCALE = float(os.environ.get("BENCH_FLEET_SCALE", "1"))
# "local": the fleet's DynamoDB calls go to DynamoDB Local (tests/dynamodb_local.py) instead of moto.
FLEET_DYNAMODB = os.environ.get("BENCH_FLEET_DYNAMODB", "moto")
# Each batch is one invocation of the TokenPush function, with its whole timeout ahead of it.
INVOCATION_S = next(f.timeout_s for f in topology.FUNCTIONS if f.name == "TokenPush")


def _simulator_process(per_minute: int) -> tuple[Any, str, str]:
    """The simulator in a process of its own (`roam-emp simulator`), as Plugsurfing is a service of
    its own: the bench process keeps moto's server alone. Returns (process, URL, token A)."""
    import secrets
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_a = secrets.token_hex(16)
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [
            str(Path(sys.executable).parent / "roam-emp"),
            "simulator",
            "--port",
            str(port),
            "--per-minute",
            str(per_minute),
            "--token-a",
            token_a,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/_sim/state", timeout=2).raise_for_status()
            return process, url, token_a
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.2)


def _fleet_consumer(tasks: Any, results: Any, pushed: Any, ours: int, reserve: int) -> None:
    """One consumer process (one TokenPush Lambda instance): its own interpreter, HTTP client and
    caches; the limiter is the shared DynamoDB counter, as every instance's. Takes batches of 10
    from the queue stand-in; a handed-back batch goes back, visible again at ``retry_at``."""
    import logging

    from roam_emp import config
    from roam_emp.domain.tokens import HandBack, RetryLater, TokenPusher
    from roam_emp.hub.rate_limit import HubRateLimiter, Share

    logging.disable(logging.INFO)  # two INFO lines per push would be measured too
    settings = config.settings()
    pusher = TokenPusher.from_settings(settings, max_receive_count=5)
    pusher.limiter = HubRateLimiter(
        settings.state_table, per_minute=ours, per_day=10**6, share=Share.BULK, reserve=reserve
    )
    counts = {"handed_back": 0, "retried": 0, "invocations": 0}
    cpu_started = time.process_time()
    while (task := tasks.get()) is not None:
        visible_at, batch = task
        if visible_at > time.time():
            tasks.put(task)  # not visible yet: SQS would hand out another message
            time.sleep(0.02)
            continue
        counts["invocations"] += 1
        with pusher.within(INVOCATION_S * 1000):
            for i, body in enumerate(batch):
                try:
                    outcome = pusher.handle(body)
                except HandBack as back:
                    tasks.put((back.retry_at, batch[i:]))
                    counts["handed_back"] += len(batch) - i
                    break
                except RetryLater:
                    tasks.put((time.time() + 1, [body]))
                    counts["retried"] += 1
                    continue
                if outcome == "pushed":
                    with pushed.get_lock():
                        pushed.value += 1
    pusher.close()
    results.put({**counts, "cpu_s": time.process_time() - cpu_started})


def push_fleet() -> dict[str, Any]:
    """FLEET_SIZE consumers, each a process of its own (own interpreter and HTTP client, as
    separate Lambda instances), sharing the DynamoDB limiter at the stack's defaults (2,900/min,
    200 kept for interactive calls) against a simulator enforcing Plugsurfing's 3,000/min. Each
    consumer takes batches of 10 as Lambda invocations of INVOCATION_S; a batch handed back (the
    next minute starts after the invocation's deadline) is visible again when that minute starts,
    as the handler arranges with SQS. The simulator runs in a process of its own; moto's server
    stays in this one (local mode's)."""
    import logging
    import multiprocessing
    from contextlib import ExitStack

    from roam_emp import config
    from roam_emp.domain.tokens import TokenPusher
    from roam_emp.local.runtime import LocalRuntime

    tokens = round(FLEET_TOKENS * FLEET_SCALE)
    hub_limit, ours, reserve = (round(n * FLEET_SCALE) for n in (3000, 2900, 200))
    with ExitStack() as stack:
        if FLEET_DYNAMODB == "local":
            # DynamoDB Local (Java, many threads) instead of moto's one-at-a-time server for the
            # DynamoDB calls: the store and the limiter, not moto, are what is measured.
            from tests.dynamodb_local import DynamoDbLocal

            ddb = DynamoDbLocal().start()
            stack.callback(ddb.stop)
            for variable in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
                stack.callback(os.environ.pop, variable, None)
                os.environ[variable] = ddb.url
        simulator, sim_url, token_a = _simulator_process(hub_limit)
        stack.callback(simulator.wait, 30)
        stack.callback(simulator.terminate)
        runtime = stack.enter_context(LocalRuntime(log_level="ERROR", schedules=False, ship_logs=False))

        def rejected_429() -> int:
            return int(httpx.get(f"{sim_url}/_sim/state").json()["rejected_429"])

        register(runtime, f"{sim_url}/ocpi/versions", token_a)
        logging.disable(logging.INFO)
        if runtime.triggers:
            runtime.triggers.stop()  # the OutboxRelay is a Lambda of its own in AWS
        setup = TokenPusher.from_settings(config.settings(), max_receive_count=5)
        bodies = store_tokens(setup, "F", tokens)
        rejected_before = rejected_429()
        # The consumers inherit this environment (local mode's endpoints and resource names).
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        spawn = multiprocessing.get_context("spawn")
        tasks, results, pushed = spawn.Queue(), spawn.Queue(), spawn.Value("i", 0)
        for start in range(0, len(bodies), 10):
            tasks.put((0.0, bodies[start : start + 10]))
        consumers = [
            spawn.Process(target=_fleet_consumer, args=(tasks, results, pushed, ours, reserve))
            for _ in range(FLEET_SIZE)
        ]
        started = time.perf_counter()
        for consumer in consumers:
            consumer.start()
        # The consumers' own start (a fresh interpreter each, as a cold Lambda) is in the time.
        while pushed.value < tokens and any(c.is_alive() for c in consumers):
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        for _ in consumers:
            tasks.put(None)
        reports = [results.get(timeout=120) for _ in consumers]
        for consumer in consumers:
            consumer.join(timeout=60)
        rate = pushed.value / elapsed * 60
        return {
            "scale": FLEET_SCALE,
            "tokens": tokens,
            "consumers": FLEET_SIZE,
            "pushed": pushed.value,
            "all_pushed_in_s": round(elapsed, 1),
            "tokens_per_minute_overall": round(rate),
            "share_of_hub_limit": round(rate / hub_limit, 3),
            "handed_back": sum(r["handed_back"] for r in reports),
            "retried": sum(r["retried"] for r in reports),
            "invocations": sum(r["invocations"] for r in reports),
            "consumer_cpu_ms_per_token": round(
                sum(r["cpu_s"] for r in reports) / max(pushed.value, 1) * 1000, 2
            ),
            "simulator_limit_per_minute": hub_limit,
            "our_limit_per_minute": ours,
            "interactive_reserve_per_minute": reserve,
            "simulator_429s": rejected_429() - rejected_before,
            "target": ">= 2,500/min overall (5/6 of the hub limit), 0 x 429",
            "load_average_1min": round(os.getloadavg()[0], 1),
            "dynamodb": FLEET_DYNAMODB,
            "method": "domain push code in consumer processes (spawn), the simulator in a process of its "
            "own, moto's server in the bench process, an in-memory queue stand-in: moto's SQS costs "
            "O(queue length) per message",
        }
