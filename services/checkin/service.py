"""Checkin's use cases: admitting and letting out, and keeping its read models.

A scan is one transaction: its idempotency claim, the decision under the ticket's lock,
presence, the gate's counters, the outbox row and the stored answer commit together. The
same ``client_scan_id`` from the same device returns the first answer and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.checkin import domain, repository
from shared.batching import Coalescer, function_coalescer
from shared.contracts.registration import (
    DevicePaired,
    DeviceRevoked,
    EventPublished,
    TicketIssued,
    TicketRevoked,
)
from shared.devicetokens import Device
from shared.errors import FieldError, ValidationFailed
from shared.i18n import Translator
from shared.ids import uuid7
from shared.keys import KeyCache
from shared.live import LiveFeed
from shared.logging import correlation_id
from shared.runtime import Runtime
from shared.security import InvalidTicket, verify_ticket

logger = logging.getLogger(__name__)

KEYS = "keys"
LIVE = "live"
BATCHER = "scan_batcher"

MESSAGES = {
    "admitted": "Welcome! Admitted.",
    "exited": "Exit recorded.",
    "already_admitted": "Already admitted.",
    "invalid_signature": "This is not a valid Tomoni ticket.",
    "unknown_ticket": "This ticket is not known.",
    "cancelled": "This ticket was cancelled.",
    "wrong_event": "This ticket is for another event.",
    "not_admitted_yet": "This person has not entered yet.",
    "device_revoked": "This scanner was switched off by the organizers.",
}


@dataclass(frozen=True)
class Scan:
    client_scan_id: str
    qr_text: str
    direction: domain.Direction
    scanned_at: datetime | None = None


# checkin_scan's arguments but the control flag, in its order.
ScanArgs = tuple[
    uuid.UUID,
    str,
    str,
    str,
    str,
    datetime,
    datetime,
    uuid.UUID | None,
    str | None,
    str | None,
    uuid.UUID,
    str,
    str | None,
    timedelta,
]
_SCAN_ONE = "SELECT checkin_scan($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
_SCAN_MANY = (
    "SELECT checkin_scan_many($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::timestamptz[], $7::timestamptz[], $8::uuid[], $9::text[], $10::text[],"
    " $11::uuid[], $12, $13::text[], $14)"
)


def batcher(rt: Runtime) -> Coalescer[ScanArgs, Any]:
    """The scans' coalescer (one per process, made on first use)."""
    found: Coalescer[ScanArgs, Any] | None = rt.state.get(BATCHER)
    if found is None:
        found = rt.state[BATCHER] = function_coalescer(
            lambda: rt.pool,
            _SCAN_ONE,
            _SCAN_MANY,
            scalars=frozenset({11, 13}),  # the subject prefix and the offline interval
            one_extra=(False,),  # with the ticket's lock
            name="checkin.scan",
        )
    return found


def keys(rt: Runtime) -> KeyCache:
    cache: KeyCache = rt.state[KEYS]
    return cache


def live(rt: Runtime) -> LiveFeed:
    feed: LiveFeed = rt.state[LIVE]
    return feed


async def start(rt: Runtime) -> None:
    rt.state[KEYS] = KeyCache(rt.pool)
    feed = LiveFeed(rt.nc, rt.namespace, "checkin", lambda slug: repository.counts(rt.pool, slug))
    await feed.start()
    rt.state[LIVE] = feed


async def stop(rt: Runtime) -> None:
    await live(rt).stop()


async def scan(
    rt: Runtime,
    device: Device,
    s: Scan,
    t: Translator,
    *,
    now: datetime | None = None,
    unsafe_no_ticket_lock: bool = False,
) -> dict[str, Any]:
    """Decide one scan. ``unsafe_no_ticket_lock`` is for the concurrency test's control."""
    received = now or datetime.now(UTC)
    scanned_at = domain.as_utc(s.scanned_at or received)
    if domain.scanned_at_error(scanned_at, received):
        raise ValidationFailed([FieldError("scanned_at", "in_future")])
    public_keys = await keys(rt).get()
    ticket_id: uuid.UUID | None = None
    reject: str | None = None
    number = domain.ticket_number(s.qr_text)
    if number is None:
        try:
            claims = verify_ticket(s.qr_text, public_keys)
        except InvalidTicket:
            reject = "invalid_signature"
        else:
            ticket_id = claims.ticket_id
            if not claims.is_for(device.event):
                reject = "wrong_event"
    # Everything else in one round trip (migrations/0003_scan_function.sql): the claim of
    # the client_scan_id, the decision under the ticket's lock, presence, counters, the
    # stored answer and the fact in the outbox, committed together. Scans arriving while
    # another batch is in the database go together (shared/batching.py).
    args: ScanArgs = (
        device.id,
        s.client_scan_id,
        device.event,
        device.place,
        s.direction,
        scanned_at,
        received,
        ticket_id,
        reject,
        number,
        uuid7(),
        f"{rt.namespace}.checkin.",
        correlation_id.get(),
        domain.OFFLINE_AFTER,
    )
    if unsafe_no_ticket_lock:
        answer = await rt.pool.fetchval(_SCAN_ONE, *args, True)
    else:
        answer = await batcher(rt).submit(args)
    response: dict[str, Any] = dict(answer["response"] or {})
    if answer["fresh"]:
        rt.committed()
        live(rt).touch(device.event)
    if "result" in response:
        key = response.get("reason") or response["result"]
        response["message"] = t.gettext(MESSAGES[key])
    return response


# -- read models ------------------------------------------------------------------------
async def apply_event_published(conn: asyncpg.Connection, event: EventPublished) -> bool:
    """Keep the newest description of an event; return True if it was applied."""
    if not domain.supersedes(event.revision, await repository.held_revision(conn, event.slug)):
        return False
    await repository.store_event(conn, event)
    return True


async def apply_ticket_issued(conn: asyncpg.Connection, slug: str, t: TicketIssued) -> None:
    """Store the ticket; if it was admitted before its details arrived (counted as one
    person), correct the counters to its real party size."""
    await repository.store_ticket(conn, slug, t)
    row = await conn.fetchrow(
        "SELECT people, inside, first_gate, first_device FROM presence"
        " WHERE ticket_id = $1 FOR UPDATE",
        t.ticket_id,
    )
    if row is None or row["people"] == t.party_size:
        return
    delta = t.party_size - row["people"]
    await conn.execute(
        "UPDATE presence SET people = $2 WHERE ticket_id = $1", t.ticket_id, t.party_size
    )
    await conn.execute(
        "UPDATE gate_counts SET admitted_people = admitted_people + $4,"
        " inside_people = inside_people + $5"
        " WHERE event_slug = $1 AND gate = $2 AND device_id = $3",
        slug,
        row["first_gate"],
        row["first_device"],
        delta,
        delta if row["inside"] else 0,
    )


async def apply_ticket_revoked(conn: asyncpg.Connection, slug: str, t: TicketRevoked) -> None:
    await repository.revoke_ticket(conn, slug, t.ticket_id, t.reason)


async def apply_device_paired(conn: asyncpg.Connection, slug: str, d: DevicePaired) -> None:
    await repository.store_device(
        conn,
        slug,
        device_id=d.device_id,
        role=d.role,
        place=d.place,
        label=d.label,
        expires_at=d.expires_at,
    )


async def apply_device_revoked(conn: asyncpg.Connection, d: DeviceRevoked) -> None:
    await repository.revoke_device(conn, d.device_id)


async def erase_personal_data(
    conn: asyncpg.Connection,
    *,
    ticket_ids: list[uuid.UUID] | None = None,
    event: str | None = None,
) -> None:
    """Registration erased a person (their tickets) or a whole event: forget the names
    shown to volunteers, here and in the stored answers that retries get. The counts stay."""
    arg: list[uuid.UUID] | str | None
    if ticket_ids is not None:
        where, arg = "id = ANY($1::uuid[])", ticket_ids
        answer_where = "ticket_id = ANY($1::uuid[])"
    else:
        where, arg = "event_slug = $1", event
        answer_where = "event_slug = $1"
    await conn.execute(f"UPDATE tickets SET display_name = NULL WHERE {where}", arg)
    await conn.execute(
        f"UPDATE scans SET response = response #- '{{attendee,display_name}}'"
        f" WHERE {answer_where} AND response ? 'attendee'",
        arg,
    )
