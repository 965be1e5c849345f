"""The synthesized CDK app, shared by the infra test files: the context of cdk.json and reading a
function's IAM statements out of a template. The app itself is synthesized once per test process
by the session fixtures ``environments`` and ``synth`` (tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]
Synth = tuple[Any, "Template", Path]


def role_statements(template: Template, function_name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if f"{function_name}Role" in json.dumps(policy["Properties"]["Roles"]):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    acts = statement["Action"]
    return set(acts if isinstance(acts, list) else [acts])
