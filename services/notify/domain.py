"""Notify's rules: pure, synchronous, no I/O.

So far: when personal data kept for an event must be gone. Templates, channels and the
delivery rules come with the notify capability.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def supersedes(incoming_revision: int, held_revision: int | None) -> bool:
    """Only a newer description of an event replaces the one held."""
    return held_revision is None or incoming_revision > held_revision


def erase_after(ends_at: datetime, retention_days: int) -> datetime:
    """Personal data for an event is erased ``retention_days`` after it ends."""
    return ends_at + timedelta(days=retention_days)
