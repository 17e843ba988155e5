"""Checkin's use cases. Consumers call these inside the transaction that also holds the
inbox claim, so an effect and its "processed" record commit together."""

from __future__ import annotations

import asyncpg

from services.checkin import domain, repository
from shared.contracts.registration import EventPublished


async def apply_event_published(conn: asyncpg.Connection, event: EventPublished) -> bool:
    """Keep the newest description of an event; return True if it was applied."""
    if not domain.supersedes(event.revision, await repository.held_revision(conn, event.slug)):
        return False
    await repository.store_event(conn, event)
    return True
