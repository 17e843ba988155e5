"""Stamprally's rules: pure, synchronous, no I/O.

So far: which description of an event to keep. Completion rules, stamps and prizes come
with the stamp-rally capability.
"""

from __future__ import annotations


def supersedes(incoming_revision: int, held_revision: int | None) -> bool:
    """Only a newer description of an event replaces the one held."""
    return held_revision is None or incoming_revision > held_revision
