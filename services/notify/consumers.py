"""Notify's bus edge: parse a contract → one service call, inside the inbox claim's
transaction."""

from __future__ import annotations

import asyncpg

from services.notify import repository, service
from shared.contracts.registration import (
    EventAnnounced,
    EventErased,
    EventPublished,
    RegistrationErased,
    _RegistrationFact,
)
from shared.contracts.stamprally import RallyCompleted
from shared.events import Envelope
from shared.runtime import Runtime


async def on_event_published(
    conn: asyncpg.Connection, envelope: Envelope, payload: EventPublished
) -> None:
    await service.apply_event_published(conn, payload)


async def on_registration_fact(
    rt: Runtime, conn: asyncpg.Connection, envelope: Envelope, payload: _RegistrationFact
) -> None:
    await service.apply_registration_fact(rt, conn, envelope, payload)


async def on_announced(
    rt: Runtime, conn: asyncpg.Connection, envelope: Envelope, payload: EventAnnounced
) -> None:
    await service.apply_announcement(rt, conn, envelope, payload)


async def on_rally_completed(
    rt: Runtime, conn: asyncpg.Connection, envelope: Envelope, payload: RallyCompleted
) -> None:
    await service.apply_rally_completed(rt, conn, envelope, payload)


async def on_registration_erased(
    conn: asyncpg.Connection, envelope: Envelope, payload: RegistrationErased
) -> None:
    await repository.erase_registration(conn, payload.registration_id)


async def on_event_erased(
    conn: asyncpg.Connection, envelope: Envelope, payload: EventErased
) -> None:
    assert envelope.event is not None
    await repository.erase_event(conn, envelope.event)
