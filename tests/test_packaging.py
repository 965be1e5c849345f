"""What ships to Lambda is what pyproject declares, and the Lambda code never imports local-only
packages."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "functions" / "roam_emp"
LOCAL_ONLY = {"moto", "flask", "werkzeug", "aws_cdk", "cdk_nag", "constructs", "pytest"}
NOT_SHIPPED = {"local", "simulator"}


def test_lambda_requirements_mirror_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    shipped = [
        line.strip()
        for line in (ROOT / "functions" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert shipped == declared


def test_shipped_modules_import_no_local_only_package() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in NOT_SHIPPED or relative.name in ("cli.py", "admin_client.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{relative}: {n}" for n in names if n.split(".")[0] in LOCAL_ONLY]
    assert offenders == []
