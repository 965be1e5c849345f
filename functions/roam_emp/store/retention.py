"""How long the tables with a TTL keep their items (docs/operations.md "Retention").

The CDK app sets the days from ``cdk.json`` (``roam_emp.retention``) in each Lambda's environment;
the store code writes ``expires_at`` (epoch seconds, the tables' TTL attribute, infra/storage.py)
from them. DynamoDB deletes an expired item within days of its time, so readers never rely on
the exact moment. Pure: no boto3.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class Retention:
    env_var: str
    default_days: int

    def days(self) -> int:
        raw = os.environ.get(self.env_var)
        if raw is None or raw == "":
            return self.default_days
        days = int(raw)
        if days < 1:
            raise RuntimeError(f"{self.env_var} must be a whole number of days >= 1, got {raw!r}")
        return days

    def expires_at(self, now: float | None = None) -> dict[str, str]:
        """The TTL attribute's value for an item written ``now`` (DynamoDB ``N``, epoch seconds)."""
        at = time.time() if now is None else now
        return {"N": str(int(at) + self.days() * 86400)}


# Real-time authorization decisions: support and analytics look back a year and a bit.
AUTHORIZATIONS = Retention("AUTHORIZATIONS_RETENTION_DAYS", 400)
# Remote commands and their results: a support case about a start/stop is raised within weeks.
COMMANDS = Retention("COMMANDS_RETENTION_DAYS", 90)
# A full Location pull's per-page ids: needed only until the run ends (a run resumes for hours).
PULL_RUNS = Retention("PULL_RUNS_RETENTION_DAYS", 3)
ALL: tuple[Retention, ...] = (AUTHORIZATIONS, COMMANDS, PULL_RUNS)
