"""Stamprally's bus edge: parse a contract → one service call, inside the inbox claim's
transaction."""

from __future__ import annotations

import asyncpg

from services.stamprally import service
from shared.contracts.checkin import Admitted
from shared.contracts.registration import (
    DevicePaired,
    DeviceRevoked,
    EventErased,
    EventPublished,
    RegistrationErased,
    TicketIssued,
    TicketRevoked,
)
from shared.events import Envelope


async def on_event_published(conn: asyncpg.Connection, env: Envelope, p: EventPublished) -> None:
    await service.apply_event_published(conn, p)


async def on_ticket_issued(conn: asyncpg.Connection, env: Envelope, p: TicketIssued) -> None:
    assert env.event is not None
    await service.apply_ticket_issued(conn, env.event, p)


async def on_ticket_revoked(conn: asyncpg.Connection, env: Envelope, p: TicketRevoked) -> None:
    assert env.event is not None
    await service.apply_ticket_revoked(conn, env.event, p)


async def on_device_paired(conn: asyncpg.Connection, env: Envelope, p: DevicePaired) -> None:
    assert env.event is not None
    await service.apply_device_paired(conn, env.event, p)


async def on_device_revoked(conn: asyncpg.Connection, env: Envelope, p: DeviceRevoked) -> None:
    await service.apply_device_revoked(conn, p)


async def on_admitted(conn: asyncpg.Connection, env: Envelope, p: Admitted) -> None:
    assert env.event is not None
    await service.apply_admitted(conn, env.event, p)


async def on_registration_erased(
    conn: asyncpg.Connection, env: Envelope, p: RegistrationErased
) -> None:
    await service.erase_personal_data(conn, ticket_ids=p.ticket_ids)


async def on_event_erased(conn: asyncpg.Connection, env: Envelope, p: EventErased) -> None:
    assert env.event is not None
    await service.erase_personal_data(conn, event=env.event)
