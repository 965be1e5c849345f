"""Plugsurfing's stage test list, automated (`roam-emp stage-test`): the steps (runner.py) and
Plugsurfing's side of them, simulated or real (hub_side.py)."""

from .hub_side import HubSide, PlugsurfingStage, SimulatedHub
from .runner import StageTest
from .steps import AdminApi, StageContext, StageIds, Step

__all__ = [
    "AdminApi",
    "HubSide",
    "PlugsurfingStage",
    "SimulatedHub",
    "StageContext",
    "StageIds",
    "StageTest",
    "Step",
]
