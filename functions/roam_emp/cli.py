"""`roam-emp`: the operator's entry point."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from typing import Any

from . import cdrs_check_command, cost_model, operations, tokens_command
from .admin_client import AdminClient, AdminError


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_local(args: argparse.Namespace) -> int:
    from .local.faults import AwsFaults, parse_faults
    from .local.runtime import LocalRuntime
    from .simulator import RoamSimulator

    faults = AwsFaults(*parse_faults(args.aws_faults)) if args.aws_faults else None
    runtime = LocalRuntime(port=args.port, log_level=args.log_level, events_out=args.events_out).start()
    simulator = None
    versions_url, token_a = args.hub_versions_url, args.hub_token
    if not versions_url:
        simulator = RoamSimulator(args.simulator_port).start()
        versions_url, token_a = simulator.versions_url, simulator.state.token_a
        print(f"Roam OCPI simulator: {simulator.url}")
    print(f"roam-emp local mode: {runtime.url} (our versions URL {runtime.versions_url})")
    if args.events_out:
        print(f"every event on the bus is appended to {args.events_out} (JSON lines)")
    try:
        data = AdminClient(runtime.url).call(
            "POST", "/admin/registration", {"versions_url": versions_url, "token_a": token_a}
        )
        print(f"registered with {versions_url}: {data['status']}")
    except AdminError as error:
        print(f"registration failed: {error}", file=sys.stderr)
    if faults:  # after registering: the faults are for watching the guarantees, not the set-up
        runtime.faults = faults.install()
        print(f"{faults.rate:.0%} of our AWS calls fail (seed {faults.seed}), half after taking effect")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    if simulator:
        simulator.stop()
    runtime.stop()
    return 0


def cmd_simulator(args: argparse.Namespace) -> int:
    from .simulator import RoamSimulator

    simulator = RoamSimulator(args.port, per_minute=args.per_minute, token_a=args.token_a)
    print(
        f"Roam OCPI simulator on {simulator.url}; versions {simulator.versions_url}; "
        f"token A {simulator.state.token_a}"
    )
    with contextlib.suppress(KeyboardInterrupt):
        simulator.serve_forever()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .local.demo import run_demo

    return 0 if run_demo(args.port) else 1


def cmd_stage_test(args: argparse.Namespace) -> int:
    if not args.api:
        from .local.demo import run_stage_test

        return 0 if run_stage_test(args.report) else 1
    # A deployed stack registered with Plugsurfing's stage: we drive our side through the admin
    # API; what Plugsurfing drives is asked for and waited on (stage/hub_side.py).
    from .stage import PlugsurfingStage, StageIds, StageTest

    ids = StageIds(token_uid=args.token_uid, contract_id=args.contract_id, location_id=args.location_id)
    test = StageTest(AdminClient(args.api, args.region), PlugsurfingStage(patience_s=args.patience), ids)
    print(
        f"stage test: {args.api} against Plugsurfing's stage "
        f"(token {ids.token_uid}, location {ids.location_id})"
    )
    passed = test.run()
    test.report(args.report, {"api": args.api, "hub": "Plugsurfing stage"})
    return 0 if passed else 1


def cmd_register(args: argparse.Namespace) -> int:
    data = AdminClient(args.api, args.region).call(
        "POST", "/admin/registration", {"versions_url": args.versions_url, "token_a": args.token_a}
    )
    _print(data)
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    _print(AdminClient(args.api, args.region).call("POST", "/admin/registration", {"action": "rotate"}))
    return 0


def cmd_unregister(args: argparse.Namespace) -> int:
    path = "/admin/registration?force=true" if args.force else "/admin/registration"
    _print(AdminClient(args.api, args.region).call("DELETE", path))
    return 0


def cmd_token_a(args: argparse.Namespace) -> int:
    _print(AdminClient(args.api, args.region).call("POST", "/admin/registration/token-a"))
    return 0


def cmd_support_bundle(args: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    query = {
        k: v
        for k, v in (
            ("session_id", args.session_id),
            ("cdr_id", args.cdr_id),
            ("token_uid", args.token_uid),
            ("type", args.type),
            ("hours", args.hours),
            ("logs", "false" if args.no_logs else None),
        )
        if v
    }
    data = AdminClient(args.api, args.region).call("GET", f"/admin/support?{urlencode(query)}")
    print(data["text"])
    if args.json:
        _print(data["fields"])
    return 0


def cmd_locations_estimate(args: argparse.Namespace) -> int:
    from urllib.parse import quote, urlencode

    query = {
        k: v
        for k, v in (
            ("evse_uid", args.evse_uid),
            ("connector_id", args.connector_id),
            ("kwh", args.kwh),
            ("minutes", args.minutes),
            ("parking_minutes", args.parking_minutes),
            ("start", args.start),
        )
        if v
    }
    path = f"/admin/locations/{quote(args.location_id, safe='')}/estimate?{urlencode(query)}"
    _print(AdminClient(args.api, args.region).call("GET", path))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .domain.status import render_text

    status = AdminClient(args.api, args.region).call("GET", "/admin/status")
    if args.json:
        _print(status)
    else:
        print(render_text(status))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .api import openapi

    if args.check:
        current = Path(args.out).read_text() if Path(args.out).exists() else ""
        if current != openapi.render(openapi.admin_document()):
            print(f"{args.out} is stale: run `roam-emp openapi`", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    print(f"wrote {openapi.write(Path(args.out))}")
    return 0


def cmd_cdrs_reprocess(args: argparse.Namespace) -> int:
    _print(AdminClient(args.api, args.region).call("POST", "/admin/cdrs/reprocess", {"key": args.key}))
    return 0


def cmd_cdrs_show(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    _print(AdminClient(args.api, args.region).call("GET", f"/admin/cdrs/{quote(args.cdr_id, safe='')}"))
    return 0


def cmd_locations_reset(args: argparse.Namespace) -> int:
    _print(AdminClient(args.api, args.region).call("POST", "/admin/locations/pull/reset"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roam-emp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="run everything on this machine (moto + local gateway)")
    local.add_argument("--port", type=int, default=8080)
    local.add_argument("--hub-versions-url", help="a real hub instead of the bundled simulator")
    local.add_argument("--hub-token", help="the hub's token A (with --hub-versions-url)")
    local.add_argument("--simulator-port", type=int, default=8090)
    local.add_argument("--log-level", default="INFO")
    local.add_argument("--events-out", metavar="FILE", help="append every event on our bus to FILE")
    local.add_argument(
        "--aws-faults",
        metavar="RATE[:SEED]",
        help="make that share of our functions' S3/DynamoDB/EventBridge/SQS calls fail "
        "(half before, half after the call took effect), e.g. 0.2:7",
    )
    local.set_defaults(func=cmd_local)

    sim = sub.add_parser("simulator", help="run the bundled Roam OCPI simulator")
    sim.add_argument("--port", type=int, default=8090)
    sim.add_argument("--per-minute", type=int, default=3000)
    sim.add_argument("--token-a")
    sim.set_defaults(func=cmd_simulator)

    demo = sub.add_parser("demo", help="local mode + simulator: the handshake both ways, told")
    demo.add_argument("--port", type=int, default=0)
    demo.set_defaults(func=cmd_demo)

    stage = sub.add_parser(
        "stage-test", help="Plugsurfing's stage test list: the simulator, or a deployed stack (--api)"
    )
    stage.add_argument("--report", default="stage-test-report.json", help="JSON report file")
    stage.add_argument("--api", help="a deployed stack's API URL (default: local mode + simulator)")
    stage.add_argument("--region")
    stage.add_argument("--token-uid", default="04DEM0C0FFEE42", help="the test token agreed with Plugsurfing")
    stage.add_argument("--contract-id", default="NLEMPD00000042", help="its contract id")
    stage.add_argument(
        "--location-id", default="LOC0000006", help="the test location agreed with Plugsurfing"
    )
    stage.add_argument(
        "--patience", type=float, default=600, help="seconds to wait for each step Plugsurfing drives"
    )
    stage.set_defaults(func=cmd_stage_test)

    def admin(
        name: str, help_text: str, parent: argparse._SubParsersAction[argparse.ArgumentParser] = sub
    ) -> argparse.ArgumentParser:
        command = parent.add_parser(name, help=help_text)
        command.add_argument(
            "--api",
            default="http://127.0.0.1:8080",
            help="the stack's API URL (CloudFormation output ApiUrl)",
        )
        command.add_argument(
            "--env", help="a deployed environment (stage, prod): its stack's ApiUrl, instead of --api"
        )
        command.add_argument("--region")
        return command

    register = admin("register", "register with Plugsurfing using its versions URL and token A")
    register.add_argument("--versions-url", required=True)
    register.add_argument("--token-a", required=True)
    register.set_defaults(func=cmd_register)
    admin("rotate-credentials", "PUT fresh credentials to Plugsurfing").set_defaults(func=cmd_rotate)
    unregister = admin("unregister", "DELETE our credentials at Plugsurfing, then forget the connection")
    unregister.add_argument(
        "--force", action="store_true", help="forget the connection even if Plugsurfing cannot be told"
    )
    unregister.set_defaults(func=cmd_unregister)
    admin("token-a", "issue a token A for a Plugsurfing-initiated registration").set_defaults(
        func=cmd_token_a
    )
    status = admin(
        "status", "registration, last full and delta pulls, queue and dead-letter depths, open alarms"
    )
    status.add_argument("--json", action="store_true", help="the raw status document")
    status.set_defaults(func=cmd_status)
    spec = sub.add_parser("openapi", help="regenerate the admin API's OpenAPI document from the handlers")
    spec.add_argument("--out", default="docs/openapi/admin.json")
    spec.add_argument("--check", action="store_true", help="fail if the document is stale")
    spec.set_defaults(func=cmd_openapi)
    bundle = admin("support-bundle", "the fields Plugsurfing's support asks for, ready to paste")
    which = bundle.add_mutually_exclusive_group(required=True)
    which.add_argument("--session-id")
    which.add_argument("--cdr-id")
    which.add_argument("--token-uid")
    bundle.add_argument("--type", default="RFID", help="token type (with --token-uid)")
    bundle.add_argument("--json", action="store_true", help="also print the fields as JSON")
    bundle.add_argument("--hours", type=int, help="search the logs of the last N hours (default 48)")
    bundle.add_argument("--no-logs", action="store_true", help="our store only, no log search")
    bundle.set_defaults(func=cmd_support_bundle)
    locations = sub.add_parser("locations", help="the Locations cache and its pulls").add_subparsers(
        dest="locations_command", required=True
    )
    admin("reset", "close a wedged Location pull run; the next pull starts afresh", locations).set_defaults(
        func=cmd_locations_reset
    )
    estimate = admin(
        "estimate", "price a planned session from the location's tariffs, in its local time", locations
    )
    estimate.add_argument("--location-id", required=True)
    estimate.add_argument("--evse-uid", help="one EVSE (default: every EVSE of the location)")
    estimate.add_argument("--connector-id", help="one connector (default: every connector)")
    estimate.add_argument("--kwh", required=True, help="energy to charge")
    estimate.add_argument("--minutes", required=True, help="charging time")
    estimate.add_argument("--parking-minutes", help="connected after charging, not charging")
    estimate.add_argument(
        "--start", help="RFC 3339 with an offset, e.g. 2026-03-02T18:30:00+01:00 (default now)"
    )
    estimate.set_defaults(func=cmd_locations_estimate)
    operations.add_parsers(sub, admin)
    cdrs = cdrs_check_command.add_parser(sub)
    reprocess = admin(
        "reprocess", "run an archived CDR body (refused or stored) through the current code", cdrs
    )
    reprocess.add_argument("--key", required=True, help="its archive key (cdrs/... or rejected/...)")
    reprocess.set_defaults(func=cmd_cdrs_reprocess)
    show = admin("show", "a CDR with its facts (token match, session link, cost check) and conflicts", cdrs)
    show.add_argument("cdr_id")
    show.set_defaults(func=cmd_cdrs_show)
    cost_model.add_parser(sub)
    tokens_command.add_parser(sub, admin)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "env", None) and hasattr(args, "api"):
            args.api = operations.api_url(args.env, args.region)  # docs/operations.md "Environments"
        return int(args.func(args))
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
