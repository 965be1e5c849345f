"""Test helpers importable from every test module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "ocpi-2.2.1-examples"


def example(name: str) -> Any:
    """An official OCPI 2.2.1 example payload from ../shared (CI has it too)."""
    return json.loads((EXAMPLES / name).read_text())
