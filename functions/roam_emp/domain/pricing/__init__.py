"""Tariff pricing (mod_tariffs.asciidoc): the CDR cost check and the estimate of a planned
session, one engine for both (engine.py)."""

from .check import CostVerdict, recompute
from .estimate import SessionEstimate, estimate_session

__all__ = ["CostVerdict", "SessionEstimate", "estimate_session", "recompute"]
