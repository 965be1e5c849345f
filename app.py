#!/usr/bin/env python3
"""CDK entry point: `make synth`, `make deploy`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))

from aws_cdk import App, Environment

from infra.config import StackConfig
from infra.nag import apply_checks
from infra.stack import RoamEmpStack


def build(app: App) -> RoamEmpStack:
    config = StackConfig.from_context(app.node)
    stack = RoamEmpStack(
        app,
        "RoamEmp",
        config=config,
        env=Environment(
            account=app.node.try_get_context("account"), region=app.node.try_get_context("region")
        ),
    )
    apply_checks(app)
    return stack


if __name__ == "__main__":
    app = App()
    build(app)
    app.synth()
