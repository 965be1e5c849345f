"""Operator commands on a deployed environment (docs/operations.md): find its stack (``--env``),
forget a driver (GDPR), restore a table to a point in time. CLI only, never shipped to Lambda.

``--env stage`` names the CloudFormation stack ``stage-RoamEmp`` (environments.py); its outputs give
the admin API's URL and its resources the physical table names, with the operator's own AWS
credentials (the region from ``--region``, else the AWS configuration).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from . import environments, topology
from .admin_client import AdminClient, AdminError
from .ocpi.timestamps import format_timestamp, parse_timestamp

AdminParser = Callable[..., argparse.ArgumentParser]


def _client(service: str, region: str | None) -> Any:
    return boto3.session.Session().client(service, region_name=region)  # type: ignore[call-overload]


def stack_outputs(environment: str, region: str | None = None) -> dict[str, str]:
    name = environments.stack_name(environment)
    try:
        stacks = _client("cloudformation", region).describe_stacks(StackName=name)["Stacks"]
    except Exception as error:  # botocore's ClientError for a stack that does not exist
        raise AdminError(f"no stack {name} for environment {environment!r}: {error}") from error
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def api_url(environment: str, region: str | None = None) -> str:
    outputs = stack_outputs(environment, region)
    if "ApiUrl" not in outputs:
        raise AdminError(f"stack {environments.stack_name(environment)} has no ApiUrl output")
    return outputs["ApiUrl"]


def table_name(environment: str, key: str, region: str | None = None) -> str:
    """The physical name of a topology table (``cdrs``) in an environment's stack."""
    if key not in {t.key for t in topology.TABLES}:
        raise AdminError(f"unknown table {key!r}: one of {sorted(t.key for t in topology.TABLES)}")
    logical = "Storage" + "".join(p.capitalize() for p in key.split("_")) + "Table"  # infra/storage.py
    pages = _client("cloudformation", region).get_paginator("list_stack_resources")
    for page in pages.paginate(StackName=environments.stack_name(environment)):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::DynamoDB::Table" and resource[
                "LogicalResourceId"
            ].startswith(logical):
                return str(resource["PhysicalResourceId"])
    raise AdminError(f"no {key} table in stack {environments.stack_name(environment)}")


# Restore -----------------------------------------------------------------------------------------

# What a point-in-time restore does not bring back, and what to look at before trusting the copy.
AFTER_RESTORE = (
    "Wait until the new table is ACTIVE (aws dynamodb describe-table --table-name TARGET): large "
    "tables take minutes to hours.",
    "Compare: count items of both tables (aws dynamodb scan --select COUNT) and read the items the "
    "incident concerns in the new table (they must be as they were at the restore time).",
    "Not restored by DynamoDB: TTL (enable expires_at on authorizations, commands, state), point-in-"
    "time recovery, the stream, tags, deletion protection. Enable what the copy needs for as long "
    "as you keep it.",
    "The stack keeps using the original table: copy the items you need back into it (the outbox "
    "relay then publishes their events again, with the same idempotency keys), and delete the "
    "copy when done. Restored CDRs still point at their bodies in the CDR archive (S3).",
)


def restore(
    source: str, to: datetime, target: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """Restore ``source`` as it was at ``to`` into a new table (never over the original)."""
    dynamodb = _client("dynamodb", region)
    backups = dynamodb.describe_continuous_backups(TableName=source)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        raise AdminError(f"point-in-time recovery is not enabled on {source}: nothing to restore from")
    earliest, latest = pitr["EarliestRestorableDateTime"], pitr["LatestRestorableDateTime"]
    if not earliest <= to <= latest:
        raise AdminError(
            f"{format_timestamp(to)} is outside {source}'s restorable window "
            f"{format_timestamp(earliest)} .. {format_timestamp(latest)}"
        )
    target = target or f"{source}-restored-{to.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    answer = dynamodb.restore_table_to_point_in_time(
        SourceTableName=source,
        TargetTableName=target,
        RestoreDateTime=to,
        BillingModeOverride="PAY_PER_REQUEST",
        SSESpecificationOverride={"Enabled": True, "SSEType": "KMS"},  # the AWS managed key, as the stack's
    )
    return {
        "source": source,
        "target": target,
        "restored_to": format_timestamp(to),
        "status": answer["TableDescription"].get("TableStatus"),
        "next_steps": [step.replace("TARGET", target) for step in AFTER_RESTORE],
    }


def cmd_restore(args: argparse.Namespace) -> int:
    try:
        to = parse_timestamp(args.to)
    except ValueError as error:
        raise AdminError(
            f"--to must be an RFC 3339 time with an offset, e.g. 2026-11-30T03:00:00Z: {error}"
        ) from error
    source = table_name(args.env, args.table, args.region) if args.env else args.table
    print(json.dumps(restore(source, to, args.target, args.region), indent=2))
    return 0


# Forget ------------------------------------------------------------------------------------------


def cmd_forget(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"force": args.force}
    body |= {"token_uid": args.token_uid} if args.token_uid else {"contract_id": args.contract_id}
    print(
        json.dumps(AdminClient(args.api, args.region).call("POST", "/admin/privacy/forget", body), indent=2)
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], admin: AdminParser) -> None:
    forget = admin("forget", "GDPR: erase a driver (tokens, authorizations; sessions, CDRs pseudonymised)")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--token-uid")
    who.add_argument("--contract-id")
    forget.add_argument(
        "--force", action="store_true", help="even if Plugsurfing still holds the token as valid"
    )
    forget.set_defaults(func=cmd_forget)
    restore_ = sub.add_parser("restore", help="restore a table to a point in time, into a new table")
    restore_.add_argument(
        "--table", required=True, help="a table key (cdrs, sessions, ...) with --env, else a table name"
    )
    restore_.add_argument("--to", required=True, help="RFC 3339 time, e.g. 2026-11-30T03:00:00Z")
    restore_.add_argument("--target", help="the new table's name (default: <source>-restored-<time>)")
    restore_.add_argument("--env", help="the environment whose stack holds the table (stage, prod)")
    restore_.add_argument("--region")
    restore_.set_defaults(func=cmd_restore)
