"""Kept for its importers: the CDR cost check now lives in domain/pricing/ (check.py)."""

from .pricing import CostVerdict, recompute

__all__ = ["CostVerdict", "recompute"]
