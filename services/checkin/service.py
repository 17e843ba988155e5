"""Checkin's use cases: admitting and letting out, and keeping its read models.

A scan is one transaction: its idempotency claim, the decision under the ticket's lock,
presence, the gate's counters, the outbox row and the stored answer commit together. The
same ``client_scan_id`` from the same device returns the first answer and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.checkin import domain, repository
from shared.contracts import checkin as c
from shared.contracts.registration import (
    DevicePaired,
    DeviceRevoked,
    EventPublished,
    TicketIssued,
    TicketRevoked,
)
from shared.db import transaction
from shared.errors import FieldError, ValidationFailed
from shared.events import envelope_for
from shared.i18n import Translator
from shared.keys import KeyCache
from shared.live import LiveFeed
from shared.logging import correlation_id
from shared.runtime import Runtime
from shared.security import InvalidTicket, verify_ticket

logger = logging.getLogger(__name__)

KEYS = "keys"
LIVE = "live"

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
class Device:
    id: uuid.UUID
    event: str
    role: str
    place: str


@dataclass(frozen=True)
class Scan:
    client_scan_id: str
    qr_text: str
    direction: domain.Direction
    scanned_at: datetime | None = None


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
    scanned_at = s.scanned_at or received
    if scanned_at.tzinfo is None:
        scanned_at = scanned_at.replace(tzinfo=UTC)
    if domain.scanned_at_error(scanned_at, received):
        raise ValidationFailed([FieldError("scanned_at", "in_future")])
    public_keys = await keys(rt).get()
    async with transaction(rt.pool) as conn:
        fresh, revoked_device = await repository.claim_scan(
            conn,
            device_id=device.id,
            client_scan_id=s.client_scan_id,
            event_slug=device.event,
            gate=device.place,
            direction=s.direction,
            scanned_at=scanned_at,
            received_at=received,
        )
        if not fresh:
            first = await repository.first_answer(conn, device.id, s.client_scan_id)
            return dict(first) if first else {}
        ticket_id: uuid.UUID | None = None
        decision: domain.Decision
        attendee: dict[str, Any] | None = None
        extra: dict[str, Any] = {}
        people = 0
        offline_dup = False
        try:
            if revoked_device:
                raise _Reject("device_revoked")
            number = domain.ticket_number(s.qr_text)
            if number is not None:
                ticket_id = await repository.ticket_by_number(conn, device.event, number)
                if ticket_id is None:
                    raise _Reject("unknown_ticket")
            else:
                try:
                    claims = verify_ticket(s.qr_text, public_keys)
                except InvalidTicket:
                    raise _Reject("invalid_signature") from None
                ticket_id = claims.ticket_id
                if not claims.is_for(device.event):
                    raise _Reject("wrong_event")
            if unsafe_no_ticket_lock:
                row = await conn.fetchrow("SELECT * FROM presence WHERE ticket_id=$1", ticket_id)
            else:
                row = await repository.lock_presence(conn, ticket_id)
            ticket = await repository.ticket_for_scan(conn, ticket_id)
            presence = domain.Presence(row["inside"], row["entries"]) if row else None
            decision = domain.decide(
                s.direction,
                presence,
                revoked=bool(ticket and ticket["revoked"]),
                reentry=bool(ticket and ticket["reentry"]),
            )
            if ticket is not None and ticket["party_size"] is not None:
                attendee = {
                    "display_name": ticket["display_name"],
                    "party_size": ticket["party_size"],
                    "category": ticket["category"],
                    "language": ticket["language"],
                }
            if decision.result == "admitted":
                people = ticket["party_size"] if ticket and ticket["party_size"] else 1
                await repository.admit(
                    conn,
                    device.event,
                    ticket_id,
                    device.place,
                    device.id,
                    people,
                    scanned_at,
                    row is None,
                )
            elif decision.result == "exited":
                assert row is not None
                people = row["people"]
                await repository.exit_(
                    conn, device.event, ticket_id, device.place, device.id, people, scanned_at
                )
            elif decision.result == "already_admitted" and row is not None:
                extra = {"first_gate": row["first_gate"], "first_at": row["first_at"].isoformat()}
                offline_dup = domain.made_offline(scanned_at, received)
        except _Reject as rej:
            decision = domain.Decision("rejected", rej.reason)
        key = decision.reason or decision.result
        response: dict[str, Any] = {
            "client_scan_id": s.client_scan_id,
            "result": decision.result,
            "message": t.gettext(MESSAGES[key]),
            **extra,
        }
        if decision.reason:
            response["reason"] = decision.reason
        if attendee and decision.result != "rejected":
            response["attendee"] = attendee
        await repository.finish_scan(
            conn,
            device.id,
            s.client_scan_id,
            ticket_id=ticket_id,
            result=decision.result,
            reason=decision.reason,
            offline_duplicate=offline_dup,
            response=response,
        )
        fact: c.Admitted | c.Exited | c.Rejected | None = None
        base = {
            "ticket_id": ticket_id,
            "gate": device.place,
            "device_id": device.id,
            "scanned_at": scanned_at,
        }
        if decision.result == "admitted":
            fact = c.Admitted(**base, people=people, reentry=bool(presence))
        elif decision.result == "exited":
            fact = c.Exited(**base, people=people)
        elif decision.result == "rejected":
            assert decision.reason is not None
            fact = c.Rejected(**base, reason=decision.reason)
        if fact is not None:
            await rt.publish(
                conn, envelope_for(fact, event=device.event, correlation_id=correlation_id.get())
            )
    rt.committed()
    live(rt).touch(device.event)
    return response


class _Reject(Exception):
    def __init__(self, reason: domain.Reason) -> None:
        self.reason: domain.Reason = reason


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
