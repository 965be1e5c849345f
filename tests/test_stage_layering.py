"""The stage package imports in one direction (issue 12): runner -> hub_side -> steps."""

from __future__ import annotations

import ast
from pathlib import Path

import roam_emp.stage as stage

STAGE = Path(stage.__file__).parent


def _local_imports(module: str) -> set[str]:
    tree = ast.parse((STAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):  # TYPE_CHECKING blocks included: a cycle there is still a cycle
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add((node.module or "").split(".")[0])
    return found


def test_runner_imports_hub_side_and_never_the_reverse() -> None:
    assert "hub_side" in _local_imports("runner")
    assert "runner" not in _local_imports("hub_side")
    assert _local_imports("steps") == set()
