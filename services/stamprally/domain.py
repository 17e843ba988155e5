"""Stamprally's rules: pure, synchronous, no I/O.

So far: the window in which a rally for an event can take stamps by default. Completion
rules, stamps and prizes come with the stamp-rally capability.
"""

from __future__ import annotations

from datetime import datetime


def supersedes(incoming_revision: int, held_revision: int | None) -> bool:
    """Only a newer description of an event replaces the one held."""
    return held_revision is None or incoming_revision > held_revision


def default_rally_hours(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    """A rally without its own hours is open while its event is."""
    return starts_at, ends_at
