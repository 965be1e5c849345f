"""Deployment environments (docs/operations.md "Environments"): stage and production side by side.

An environment's name prefixes its CloudFormation stack, and through it every resource name
CloudFormation generates, so two environments never share a table, queue, bus or alarm, whether
they live in one AWS account or two. The CDK app (app.py) and the CLI (``--env``) derive the
stack name the same way, here. Pure: no boto3, no CDK.
"""

from __future__ import annotations

import re

STACK_BASE_NAME = "RoamEmp"
# Lower case, starting with a letter: it becomes the start of stack and resource names (CloudFormation
# stack names allow [A-Za-z0-9-], S3 bucket names only lower case), short enough to leave room.
_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


def check_name(environment: str) -> str:
    if not _NAME.match(environment):
        raise ValueError(
            f"environment must be 1-12 lower-case letters or digits, starting with a letter "
            f"(e.g. stage, prod), got {environment!r}"
        )
    return environment


def stack_name(environment: str) -> str:
    """``stage`` -> ``stage-RoamEmp``: the prefix every generated physical name starts with."""
    return f"{check_name(environment)}-{STACK_BASE_NAME}"
