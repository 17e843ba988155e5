"""Notify's HTTP bodies."""

from __future__ import annotations

from shared.readmodel import KnownEvent, KnownEvents

__all__ = ["KnownEvent", "KnownEvents"]
