"""What the stage test's two halves share: the admin API they drive, the agreed ids, a step's
record, and the view of a running test a ``HubSide`` may use. ``runner`` and ``hub_side`` both
import from here and ``runner`` imports ``hub_side``; never the other way round (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class AdminApi(Protocol):
    """Our admin API: local mode's runtime, or a deployed stack through the SigV4 admin client."""

    def admin(self, method: str, path: str, body: Any = None, timeout: float = 60) -> httpx.Response: ...


@dataclass
class Step:
    title: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class StageIds:
    """The test token and location agreed with Plugsurfing (FAQ: local-start simulation)."""

    token_uid: str = "04DEM0C0FFEE42"
    contract_id: str = "NLEMPD00000042"
    location_id: str = "LOC0000006"


class StageContext(Protocol):
    """What Plugsurfing's side may ask of the running test (``runner.StageTest``)."""

    @property
    def ids(self) -> StageIds: ...

    def token_evidence(self) -> dict[str, Any]: ...

    def known_sessions(self) -> set[str]: ...
