"""Checkin's rules: pure, synchronous, no I/O.

So far: when a newer description of an event replaces the one checkin holds. Admission
rules (once per event, re-entry after exit, party sizes) come with the check-in capability.
"""

from __future__ import annotations


def supersedes(incoming_revision: int, held_revision: int | None) -> bool:
    """Events may arrive out of order across replicas: only a newer revision replaces."""
    return held_revision is None or incoming_revision > held_revision
