#!/usr/bin/env python3
"""CDK entry point: `make synth`, `make deploy`; `-c env=stage` for another environment
(docs/operations.md "Environments")."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))

from aws_cdk import App, Environment

from infra.config import StackConfig
from infra.nag import apply_checks
from infra.stack import RoamEmpStack


def build(app: App, environment: str | None = None) -> RoamEmpStack:
    """One environment's stack, named after it (``stage-RoamEmp``). ``environment`` defaults to
    ``-c env=...``, else ``roam_emp.environment`` in cdk.json."""
    config = StackConfig.from_context(app.node, environment)
    stack = RoamEmpStack(
        app,
        config.stack_name,
        config=config,
        description=f"roam-emp ({config.environment}): OCPI 2.2.1 eMSP for Plugsurfing's Roam OCPI",
        env=deployment_target(app, config),
    )
    apply_checks(app)
    return stack


def deployment_target(app: App, config: StackConfig) -> Environment:
    """Account and region: the environment's own (cdk.json), else `-c account=/region=`, else
    the CDK CLI's credentials (CDK_DEFAULT_*); unset leaves the stack environment-agnostic."""
    account = config.account or app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = config.region or app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account or None, region=region or None)


if __name__ == "__main__":
    app = App()
    build(app)
    app.synth()
