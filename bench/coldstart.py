"""Cold start of every function (issue 11): in a fresh interpreter per run, the handler module's
import plus its first invocation (client creation, the first Secrets Manager read, the first
DynamoDB calls) against moto's server, interleaved run by run with ``import boto3`` alone.

Reported as ratios to ``import boto3`` (absolute times are this machine's): the median of each
function's runs over the median of every ``import boto3`` run. Measured as shipped: on a copy of
the tree with what the bundling adds (infra/bundling.py: botocore's data trimmed to the authorize
function's calls, store/botocore_data.py), and Lambda ships bytecode, so one discarded round
compiles the ``.pyc`` files first. The child measures from inside the interpreter:
Python's own start-up (the same for every run, and Lambda's to pay) is not in either figure.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from roam_emp import topology

FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"
RUNS = int(os.environ.get("BENCH_COLDSTART_RUNS", "5"))
# Another source tree's functions/ (e.g. an export of an earlier commit), measured in the same
# interleaved runs: before and after side by side (docs/performance.md).
COMPARE_WITH = os.environ.get("BENCH_COLDSTART_COMPARE_WITH")
TARGET = "OcpiAuthorize"
TARGET_RATIO = 1.5
INBOUND_TOKEN = "coldstart-inbound-token"
TOKEN_UID = "COLD0001"
LOCATION_ID = "LOCCOLD1"

# Runs in the child: nothing but the stdlib before the clock starts.
CHILD = """
import json, sys, time
started = time.perf_counter()
{body}
""".strip()

BASELINE = """
import boto3
print(json.dumps({"import_ms": (time.perf_counter() - started) * 1000}))
"""

HANDLER = """
import importlib
module = importlib.import_module({module!r})
imported = time.perf_counter()


class Context:
    function_name = {name!r}
    memory_limit_in_mb = 256
    aws_request_id = "cold-start"
    invoked_function_arn = "arn:aws:lambda:eu-central-1:000000000000:function:" + {name!r}
    log_group_name = log_stream_name = "local"
    function_version = "$LATEST"

    def get_remaining_time_in_millis(self):
        return 30_000


error = None
try:
    answer = module.handler(json.loads({event!r}), Context())
    if isinstance(answer, dict) and answer.get("statusCode", 200) >= 500:
        error = "HTTP %s" % answer["statusCode"]
except Exception as failure:
    error = repr(failure)[:200]
done = time.perf_counter()
print(json.dumps({{
    "import_ms": (imported - started) * 1000,
    "first_call_ms": (done - imported) * 1000,
    "error": error,
    "modules": len(sys.modules),
    "loaded": {{m: m in sys.modules for m in ("boto3", "s3transfer", "roam_emp.ocpi.locations",
        "roam_emp.ocpi.tariffs", "aws_lambda_powertools.utilities.parameters", "httpx")}},
}}))
"""


def _http_event(function: topology.Function) -> dict[str, Any]:
    from roam_emp.ocpi.auth_header import encode_token

    routes = function.routes
    route = (
        next((r for r in routes if r.method == "GET"), routes[0]) if function.name != TARGET else routes[0]
    )
    path = route.path
    params: dict[str, str] = {}
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            value = TOKEN_UID if part == "{token_uid}" else "COLD1"
            params[part[1:-1]] = value
            path = path.replace(part, value)
    body = json.dumps({"location_id": LOCATION_ID}) if function.name == TARGET else None
    if route.method != "GET" and body is None:
        body = "{}"
    headers = {
        "Authorization": encode_token(INBOUND_TOKEN),
        "X-Request-ID": "cold",
        "Content-Type": "application/json",
    }
    if route.auth is topology.Auth.IAM:
        headers.pop("Authorization")
    query = {"type": "RFID"} if function.name == TARGET else None
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": route.method,
            "path": path,
            "stage": "bench",
            "requestId": "cold-start",
            "accountId": "000000000000",
            "apiId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def event_for(function: topology.Function) -> dict[str, Any]:
    """A first event each function really receives: an HTTP request, a queue message, an (empty)
    stream batch, a schedule's payload, or an operator's pull reset."""
    if function.routes:
        return _http_event(function)
    if function.queue_consume:
        # a message for a token since deleted: one read, no push
        body = json.dumps({"type": "RFID", "uid": "GONE0001", "version": 1})
        record = {
            "messageId": "cold-1",
            "receiptHandle": "cold",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": "RFID#GONE0001"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-central-1:000000000000:token-push.fifo",
            "awsRegion": "eu-central-1",
        }
        return {"Records": [record]}
    if function.streams_consume:
        return {"Records": []}
    if function.on_events:
        return {"source": "roam-emp", "detail-type": function.on_events[0], "detail": {"reset": True}}
    return dict(function.schedules[0].payload) if function.schedules else {}


def _seed() -> None:
    """What a first call finds in a running deployment: our credentials, a token, a location."""
    from roam_emp.config import settings
    from roam_emp.store import aws
    from roam_emp.store.credentials import CredentialsVault, HubTokens
    from roam_emp.store.tokens import TokenStore

    config = settings()
    CredentialsVault(config.credentials_secret).put(HubTokens(inbound=INBOUND_TOKEN, outbound="out"))
    TokenStore(config.tokens_table).save_queued(
        {
            "country_code": "NL",
            "party_id": "EMP",
            "uid": TOKEN_UID,
            "type": "RFID",
            "contract_id": "NL-EMP-C00000001-X",
            "issuer": "Example EMP",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": "2026-01-01T00:00:00Z",
        }
    )
    aws.dynamodb().put_item(
        TableName=config.locations_table,
        Item={"pk": {"S": f"LOC#{LOCATION_ID}"}, "sk": {"S": "L"}, "country": {"S": "NLD"}},
    )


def warm_authorize_calls(n: int = 50) -> dict[str, Any]:
    """AWS calls per warm authorization (token and location known), in this process on moto."""
    import time

    from roam_emp.config import settings
    from roam_emp.domain.authorization import Authorizer, LocationReferences

    from .aws_calls import counting

    authorizer = Authorizer.from_settings(settings())
    where = LocationReferences(location_id=LOCATION_ID)
    authorizer.authorize(TOKEN_UID, "RFID", where)  # warm: clients made
    with counting() as calls:
        started = time.perf_counter()
        for _ in range(n):
            authorizer.authorize(TOKEN_UID, "RFID", where)
        elapsed = time.perf_counter() - started
    return {
        "authorizations": n,
        "aws_calls_per_authorize": round(sum(calls.values()) / n, 2),
        "by_operation": {k: round(v / n, 2) for k, v in calls.items()},
        "reads_concurrent": True,  # tests/test_authorize_hot_path.py asserts the overlap
        "ms_per_authorize_on_moto": round(elapsed / n * 1000, 1),
    }


def as_shipped(functions: Path, into: Path) -> Path:
    """A copy of ``functions`` with what the bundling adds to the code asset, by the copy's own
    build step (a tree from before that step ships none): what Lambda would load."""
    target = into / "functions"
    shutil.copytree(functions, target, ignore=shutil.ignore_patterns("__pycache__"))
    if (target / "roam_emp" / "store" / "botocore_data.py").exists():
        subprocess.run(  # noqa: S603 - our own interpreter, the tree's own build step
            [sys.executable, "-m", "roam_emp.store.botocore_data", str(target / "roam_emp")],
            env={**os.environ, "PYTHONPATH": str(target)},
            capture_output=True,
            check=True,
        )
    return target


def _child(body: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, "-c", CHILD.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold-start child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(runs: int = RUNS, names: tuple[str, ...] = ()) -> dict[str, Any]:
    from roam_emp.local.moto_server import MotoServer
    from roam_emp.local.provision import LocalNames, apply, provision
    from roam_emp.local.runtime import DEFAULT_ENV

    functions = [f for f in topology.FUNCTIONS if not names or f.name in names]
    shipped = tempfile.TemporaryDirectory(prefix="coldstart-")
    moto = MotoServer().start()
    try:
        os.environ.update(
            {**DEFAULT_ENV, "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
        )
        apply(provision(LocalNames()))
        _seed()
        ours = as_shipped(FUNCTIONS_DIR, Path(shipped.name) / "ours")
        env = {**os.environ, "PYTHONPATH": str(ours), "PYTHONDONTWRITEBYTECODE": ""}
        env.pop("PYTHONDONTWRITEBYTECODE")
        bodies = {
            f.name: HANDLER.format(
                module=f.handler.rpartition(".")[0], name=f.name, event=json.dumps(event_for(f))
            )
            for f in functions
        }
        for body in bodies.values():  # compile the .pyc files, as Lambda's package ships them
            _child(body, env)
        other = (
            {**env, "PYTHONPATH": str(as_shipped(Path(COMPARE_WITH), Path(shipped.name) / "other"))}
            if COMPARE_WITH
            else None
        )
        if other is not None:
            for body in bodies.values():
                _child(body, other)
        baseline: list[float] = []
        samples: dict[str, list[dict[str, Any]]] = {f.name: [] for f in functions}
        compared: dict[str, list[dict[str, Any]]] = {f.name: [] for f in functions}
        for _ in range(runs):
            for function in functions:  # interleaved: the machine's load hits both alike
                baseline.append(_child(BASELINE, env)["import_ms"])
                samples[function.name].append(_child(bodies[function.name], env))
                if other is not None:
                    compared[function.name].append(_child(bodies[function.name], other))
        warm = warm_authorize_calls()
    finally:
        moto.stop()
        shipped.cleanup()
    floor = statistics.median(baseline)
    table = _ratios(samples, floor)
    result: dict[str, Any] = {
        "runs": runs,
        "import_boto3_ms_this_machine": round(floor, 1),
        "target": {"function": TARGET, "total_ratio_max": TARGET_RATIO},
        "functions": table,
        "authorize_warm": warm,
    }
    if COMPARE_WITH:
        result["compared_tree"] = {"source": COMPARE_WITH, "functions": _ratios(compared, floor)}
    return result


def _ratios(samples: dict[str, list[dict[str, Any]]], floor: float) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name, runs_of in samples.items():
        imported = statistics.median(r["import_ms"] for r in runs_of)
        first = statistics.median(r["first_call_ms"] for r in runs_of)
        total = statistics.median(r["import_ms"] + r["first_call_ms"] for r in runs_of)
        table[name] = {
            "import_ratio": round(imported / floor, 2),
            "first_call_ratio": round(first / floor, 2),
            "total_ratio": round(total / floor, 2),
            "modules": runs_of[-1]["modules"],
            "loaded": [m for m, on in runs_of[-1]["loaded"].items() if on],
            "error": runs_of[-1]["error"],
        }
    return table


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\ncold start, ratio to `import boto3` alone ({result['import_boto3_ms_this_machine']} ms "
        f"here), median of {result['runs']} fresh interpreters each",
        file=sys.stderr,
    )
    print(
        f"{'function':<20} {'import':>7} {'1st call':>9} {'total':>7} {'modules':>8}  loaded", file=sys.stderr
    )
    for name, row in sorted(result["functions"].items(), key=lambda kv: kv[1]["total_ratio"]):
        note = f"  ({row['error']})" if row["error"] else ""
        print(
            f"{name:<20} {row['import_ratio']:>6.2f}x {row['first_call_ratio']:>8.2f}x "
            f"{row['total_ratio']:>6.2f}x {row['modules']:>8}  {', '.join(row['loaded']) or '-'}{note}",
            file=sys.stderr,
        )
    if "compared_tree" in result:
        print(f"compared with {result['compared_tree']['source']}:", file=sys.stderr)
        for name, row in result["compared_tree"]["functions"].items():
            print(
                f"{name:<20} {row['import_ratio']:>6.2f}x {row['first_call_ratio']:>8.2f}x "
                f"{row['total_ratio']:>6.2f}x {row['modules']:>8}  {', '.join(row['loaded']) or '-'}",
                file=sys.stderr,
            )


def run() -> dict[str, Any]:
    result = measure()
    print_table(result)
    return result


if __name__ == "__main__":
    print_table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1, tuple(sys.argv[2:])))
