"""Checkin's bus edge: parse a contract → one service call. The shared consumer loop owns
the transaction, the inbox claim and the ack."""

from __future__ import annotations

import asyncpg

from services.checkin import service
from shared.contracts.registration import EventPublished
from shared.events import Envelope


async def on_event_published(
    conn: asyncpg.Connection, envelope: Envelope, payload: EventPublished
) -> None:
    await service.apply_event_published(conn, payload)
