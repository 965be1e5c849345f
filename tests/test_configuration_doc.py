"""docs/configuration.md lists every roam_emp cdk.json key of infra/config.py with its real
default, and maps each Plugsurfing organisation setting to a key that exists (issue 12)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from infra.config import AuthorizationPolicy, RetentionPolicy, StackConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([a-z0-9_.]+)` \| `(.*?)` \| (.+) \|$")


def defaults() -> dict[str, Any]:
    found: dict[str, Any] = {}
    nested: dict[str, Any] = {"authorization": AuthorizationPolicy(), "retention": RetentionPolicy()}
    for field in dataclasses.fields(StackConfig):
        if field.name in nested:
            group = nested[field.name]
            for inner in dataclasses.fields(group):
                found[f"{field.name}.{inner.name}"] = getattr(group, inner.name)
        else:
            found[field.name] = getattr(StackConfig(), field.name)
    return found


def documented() -> dict[str, str]:
    reference = DOC.read_text().split("## Reference", 1)[1]
    rows = [ROW.match(line) for line in reference.splitlines()]
    return {m.group(1): m.group(2) for m in rows if m}


def test_every_key_is_documented_with_its_default() -> None:
    expected, listed = defaults(), documented()
    assert set(listed) == set(expected), (
        f"missing from docs/configuration.md: {sorted(set(expected) - set(listed))}; "
        f"no longer in infra/config.py: {sorted(set(listed) - set(expected))}"
    )
    for key, value in expected.items():
        written = json.loads(listed[key])
        assert written == (list(value) if isinstance(value, tuple) else value), key


def test_the_organisation_settings_name_keys_that_exist() -> None:
    table = DOC.read_text().split("## Plugsurfing organisation settings", 1)[1].split("## Reference", 1)[0]
    named = set(re.findall(r"`([a-z0-9_]+(?:\.[a-z0-9_]+)?)`", table))
    keys = set(defaults())
    for must in (
        "authorization.hook_budget_ms",
        "authorization.hook_fallback",
        "max_tokens_per_contract_id",
        "allow_contract_id_change",
        "supported_countries",
        "contract_id_prefixes",
    ):
        assert must in named, must
    # Every key-looking name in the table is a real key (typos and renamed keys show up here).
    assert {n for n in named if n in keys or n.startswith("authorization.")} <= keys
    for setting in ("Real-time authorization on/off", "timeout", "Keys (tokens) per contract_id"):
        assert setting in table
