"""Notify's use cases. Consumers call them inside the transaction that holds the bus
message's inbox claim, so a message's facts and the notifications they cause are
committed together, once; the dispatcher (``dispatch.py``) sends them afterwards."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

import asyncpg

from services.notify import domain, repository
from shared.contracts.registration import (
    EventAnnounced,
    EventPublished,
    RegistrationApproved,
    TicketInfo,
    _RegistrationFact,
)
from shared.contracts.stamprally import RallyCompleted
from shared.events import Envelope
from shared.ids import uuid7
from shared.runtime import Runtime

# The registration's status after each fact (None: the fact does not change it).
STATUS_AFTER = {
    "registration.confirmed": "confirmed",
    "registration.waitlisted": "waitlisted",
    "registration.pending_review": "pending_review",
    "registration.promoted": "confirmed",
    "registration.rejected": "rejected",
    "registration.cancelled": "cancelled",
    "registration.changed": None,
}
# Who hears an organizer's announcement: everyone whose registration is still on.
ANNOUNCED_TO = ("confirmed", "waitlisted", "pending_review")


async def apply_event_published(conn: asyncpg.Connection, event: EventPublished) -> bool:
    """Keep the newest description of an event; return True if it was applied."""
    if not domain.supersedes(event.revision, await repository.held_revision(conn, event.slug)):
        return False
    await repository.store_event(conn, event)
    return True


def _mail_domain(rt: Runtime) -> str:
    address = parseaddr(rt.settings.mail_from)[1]
    return address.rpartition("@")[2] or "tomoni.invalid"


def _job(
    rt: Runtime,
    *,
    source: str,
    template: str,
    registration_id: uuid.UUID,
    event: str,
    channel: domain.Channel,
    language: str,
    recipient: str,
    context: dict[str, Any] | None = None,
    announcement_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    job_id = uuid7()
    key = domain.dedupe_key(source, template, str(registration_id), channel)
    if rt.state.get("test_hooks", {}).get("unsafe_no_claim"):
        # Control for the tests: without the unique claim, redeliveries send twice.
        key = f"{key}:{job_id}"
    return {
        "id": job_id,
        "dedupe_key": key,
        "registration_id": registration_id,
        "event": event,
        "channel": channel,
        "template": template,
        "language": language,
        "recipient": recipient,
        "context": context or {},
        "announcement_id": announcement_id,
        # Every attempt of a message carries the same Message-ID, so a mail client folds
        # the rare duplicate (a crash between the server's OK and marking it sent).
        "message_id": f"<{job_id}@{_mail_domain(rt)}>",
    }


def _jobs_for(
    rt: Runtime,
    person: asyncpg.Record,
    *,
    source: str,
    template: str,
    context: dict[str, Any] | None = None,
    announcement_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    channels = domain.channels_for(
        person["notify_by"], person["email"], person["phone"], sms_enabled=bool(rt.settings.sms_url)
    )
    return [
        _job(
            rt,
            source=source,
            template=template,
            registration_id=person["registration_id"],
            event=person["event"],
            channel=channel,
            language=person["language"],
            recipient=person["email"] if channel == "email" else person["phone"],
            context=context,
            announcement_id=announcement_id,
        )
        for channel in channels
    ]


async def apply_registration_fact(
    rt: Runtime, conn: asyncpg.Connection, envelope: Envelope, fact: _RegistrationFact
) -> int:
    """Remember who to tell, then queue the message this fact causes. Returns how many
    messages were created (0 for a fact already handled: its key is claimed)."""
    assert envelope.event is not None
    ticket: TicketInfo | None = getattr(fact, "ticket", None)
    status = STATUS_AFTER.get(envelope.type)
    if isinstance(fact, RegistrationApproved):
        status = fact.status
    person = await repository.upsert_recipient(
        conn,
        registration_id=fact.registration_id,
        event=envelope.event,
        category=fact.category,
        status=status,
        at=envelope.occurred_at,
        contact=fact.contact.model_dump(),
        manage_url=fact.manage_url,
        ticket_id=ticket.id if ticket else None,
        qr_text=ticket.qr_text if ticket else None,
    )
    template = domain.TEMPLATE_OF_FACT.get(envelope.type)
    if template is None:
        return 0
    context: dict[str, Any] = {}
    if ticket:
        context.update(ticket_id=str(ticket.id), qr_text=ticket.qr_text)
    position = getattr(fact, "position", None)
    if position is not None:
        context["position"] = position
    if fact.manage_url:
        context["manage_url"] = fact.manage_url
    # The contact as this fact gives it (not a newer one held): the message is about it.
    current = dict(person)
    current.update(
        name=fact.contact.name,
        email=fact.contact.email,
        phone=fact.contact.phone,
        language=fact.contact.language,
        notify_by=fact.contact.notify_by,
    )
    jobs = _jobs_for(rt, current, source=str(envelope.id), template=template, context=context)
    return await repository.insert_jobs(conn, jobs)


async def apply_announcement(
    rt: Runtime, conn: asyncpg.Connection, envelope: Envelope, fact: EventAnnounced
) -> int:
    """One message per registrant still registered (and not unsubscribed), per channel."""
    assert envelope.event is not None
    await repository.store_announcement(
        conn, fact.announcement_id, envelope.event, fact.subject, fact.body
    )
    people = await repository.active_recipients(
        conn, envelope.event, ANNOUNCED_TO, subscribed_only=True
    )
    jobs = [
        job
        for person in people
        for job in _jobs_for(
            rt,
            person,
            source=f"announcement-{fact.announcement_id}",
            template="announcement",
            announcement_id=fact.announcement_id,
        )
    ]
    return await repository.insert_jobs(conn, jobs)


async def apply_rally_completed(
    rt: Runtime, conn: asyncpg.Connection, envelope: Envelope, fact: RallyCompleted
) -> int:
    """'Collect your prize at the goal desk', if the event's organizers want it sent."""
    assert envelope.event is not None
    settings = await repository.event_settings(conn, envelope.event)
    person = await repository.recipient(conn, fact.registration_id)
    if not settings["rally_completed"] or person is None:
        return 0
    jobs = _jobs_for(rt, person, source=f"rally-{fact.ticket_id}", template="rally_completed")
    return await repository.insert_jobs(conn, jobs)


# -- reminders --------------------------------------------------------------------------
# A reminder that could only go out this close to the start is not sent at all.
TOO_LATE = timedelta(hours=2)


async def make_due_reminders(
    rt: Runtime, now: datetime | None = None, *, only: str | None = None
) -> int:
    """Queue the day-before reminder of every event whose time has come, once per start
    time (moving an event makes a new reminder for the new day). Safe to run in every
    replica at once: the event row is locked, and each message's key is claimed.
    ``only`` limits it to one event (for an operator, or a test with its own clock)."""
    now = now or datetime.now(UTC)
    created = 0
    for candidate in await repository.reminder_candidates(rt.pool):
        if candidate["reminder_time"] is None or only not in (None, candidate["slug"]):
            continue
        due = domain.reminder_due(
            candidate["starts_at"], candidate["reminder_time"], candidate["timezone"]
        )
        if due > now:
            continue
        async with rt.pool.acquire() as conn, conn.transaction():
            locked = await repository.lock_event_for_reminder(conn, candidate["slug"])
            if locked is None or locked["reminded_for"] == locked["starts_at"]:
                continue
            starts_at = locked["starts_at"]
            if now < starts_at - TOO_LATE:
                people = await repository.active_recipients(
                    conn, candidate["slug"], ("confirmed",), subscribed_only=False
                )
                source = f"reminder-{candidate['slug']}-{starts_at.isoformat()}"
                jobs = [
                    job
                    for person in people
                    for job in _jobs_for(
                        rt,
                        person,
                        source=source,
                        template="reminder",
                        context={
                            "ticket_id": str(person["ticket_id"]) if person["ticket_id"] else None,
                            "qr_text": person["qr_text"],
                        },
                    )
                ]
                created += await repository.insert_jobs(conn, jobs)
            await repository.mark_reminded(conn, candidate["slug"], starts_at)
    return created


# -- unsubscribe links ------------------------------------------------------------------
async def _unsubscribe_key(rt: Runtime) -> bytes:
    key: bytes | None = rt.state.get("unsubscribe_key")
    if key is None:
        key = await repository.secret(rt.pool, "unsubscribe")
        rt.state["unsubscribe_key"] = key
    return key


def _mac(key: bytes, registration_id: uuid.UUID) -> str:
    return hmac.new(key, b"unsubscribe:" + registration_id.bytes, hashlib.sha256).hexdigest()[:32]


async def unsubscribe_token(rt: Runtime, registration_id: uuid.UUID) -> str:
    """``<registration id>.<HMAC>``: a link that can stop one registrant's announcements."""
    return f"{registration_id.hex}.{_mac(await _unsubscribe_key(rt), registration_id)}"


async def check_unsubscribe_token(rt: Runtime, token: str) -> uuid.UUID | None:
    reg_hex, _, mac = token.partition(".")
    try:
        registration_id = uuid.UUID(hex=reg_hex)
    except ValueError:
        return None
    expected = _mac(await _unsubscribe_key(rt), registration_id)
    return registration_id if hmac.compare_digest(expected, mac) else None


async def unsubscribe_url(rt: Runtime, registration_id: uuid.UUID) -> str:
    return f"{rt.public_url}/notify/unsubscribe?t={await unsubscribe_token(rt, registration_id)}"


# -- live numbers -----------------------------------------------------------------------
LIVE = "live"


async def live_part(pool: asyncpg.Pool, slug: str) -> dict[str, int]:
    """The event's messages by status, for the organizers' live board."""
    counts = {"queued": 0, "sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    for r in await pool.fetch(
        "SELECT status, count(*) AS n FROM notifications WHERE event = $1 GROUP BY status",
        slug,
    ):
        counts[r["status"]] = r["n"]
    return counts


async def start(rt: Runtime) -> None:
    from shared.live import LiveFeed

    feed = LiveFeed(rt.nc, rt.namespace, "notify", lambda slug: live_part(rt.pool, slug))
    await feed.start()
    rt.state[LIVE] = feed


async def stop(rt: Runtime) -> None:
    feed = rt.state.pop(LIVE, None)
    if feed is not None:
        await feed.stop()


def touch(rt: Runtime, slug: str) -> None:
    feed = rt.state.get(LIVE)
    if feed is not None:
        feed.touch(slug)
