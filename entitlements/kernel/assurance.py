"""Assurance levels of an identity verification (eIDAS-style), weakest first."""

from __future__ import annotations

ASSURANCE_LEVELS = ("low", "substantial", "high")


def rank(level: str) -> int:
    """The level's position, weakest 0; ValueError for an unknown level."""
    return ASSURANCE_LEVELS.index(level)
