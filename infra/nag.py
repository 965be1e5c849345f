"""cdk-nag 2.x: AwsSolutions checks on every construct (Aspects.of(app).add(...)). Each remaining
suppression sits next to the resource it concerns, with its reason."""

from __future__ import annotations

from aws_cdk import App, Aspects
from cdk_nag import AwsSolutionsChecks


def apply_checks(app: App) -> None:
    """Once per app, however many environments' stacks it holds (each finding reported once)."""
    if not any(isinstance(aspect, AwsSolutionsChecks) for aspect in Aspects.of(app).all):
        Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
