"""Notify's bus edge: parse a contract → one service call."""

from __future__ import annotations

import asyncpg

from services.notify import service
from shared.contracts.registration import EventPublished
from shared.events import Envelope


async def on_event_published(
    conn: asyncpg.Connection, envelope: Envelope, payload: EventPublished
) -> None:
    await service.apply_event_published(conn, payload)
