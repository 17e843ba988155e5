"""Notify's use cases, called by consumers inside the transaction holding the inbox claim."""

from __future__ import annotations

import asyncpg

from services.notify import domain, repository
from shared.contracts.registration import EventPublished


async def apply_event_published(conn: asyncpg.Connection, event: EventPublished) -> bool:
    """Keep the newest description of an event; return True if it was applied."""
    if not domain.supersedes(event.revision, await repository.held_revision(conn, event.slug)):
        return False
    await repository.store_event(conn, event)
    return True
