"""Notify's SQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

import asyncpg

from shared.contracts.registration import EventPublished

# Woken after commit (PostgreSQL delivers NOTIFY at commit): new messages are waiting.
JOBS_CHANNEL = "tomoni_notify_jobs"


# -- events -----------------------------------------------------------------------------
async def held_revision(conn: asyncpg.Connection, slug: str) -> int | None:
    value: int | None = await conn.fetchval(
        "SELECT revision FROM events WHERE slug = $1 FOR UPDATE", slug
    )
    return value


async def store_event(conn: asyncpg.Connection, e: EventPublished) -> None:
    await conn.execute(
        """
        INSERT INTO events (slug, title, venue, starts_at, ends_at, timezone, retention_days,
                            revision)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (slug) DO UPDATE SET
            title = EXCLUDED.title, venue = EXCLUDED.venue, starts_at = EXCLUDED.starts_at,
            ends_at = EXCLUDED.ends_at, timezone = EXCLUDED.timezone,
            retention_days = EXCLUDED.retention_days, revision = EXCLUDED.revision,
            updated_at = now()
        """,
        e.slug,
        e.title,
        e.venue,
        e.starts_at,
        e.ends_at,
        e.timezone,
        e.retention_days,
        e.revision,
    )


async def event(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow("SELECT * FROM events WHERE slug = $1", slug)
    return row


# -- recipients -------------------------------------------------------------------------
async def upsert_recipient(
    conn: asyncpg.Connection,
    *,
    registration_id: uuid.UUID,
    event: str,
    category: str,
    status: str | None,
    at: datetime,
    contact: dict[str, Any],
    manage_url: str | None,
    ticket_id: uuid.UUID | None,
    qr_text: str | None,
) -> asyncpg.Record:
    """Create or update the registration's recipient; a fact older than what is held
    changes neither status nor contact (facts arrive on separate consumers)."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        INSERT INTO recipients AS r (registration_id, event, category, status, status_at,
            name, email, phone, language, notify_by, contact_at, manage_url, ticket_id,
            qr_text)
        VALUES ($1, $2, $3, coalesce($4, 'unknown'), CASE WHEN $4::text IS NULL
                THEN '-infinity'::timestamptz ELSE $5 END,
                $6, $7, $8, $9, $10, $5, $11, $12, $13)
        ON CONFLICT (registration_id) DO UPDATE SET
            status = CASE WHEN $4::text IS NOT NULL AND r.status_at < $5
                          THEN $4 ELSE r.status END,
            status_at = CASE WHEN $4::text IS NOT NULL AND r.status_at < $5
                             THEN $5 ELSE r.status_at END,
            name = CASE WHEN r.contact_at < $5 THEN $6 ELSE r.name END,
            email = CASE WHEN r.contact_at < $5 THEN $7 ELSE r.email END,
            phone = CASE WHEN r.contact_at < $5 THEN $8 ELSE r.phone END,
            language = CASE WHEN r.contact_at < $5 THEN $9 ELSE r.language END,
            notify_by = CASE WHEN r.contact_at < $5 THEN $10 ELSE r.notify_by END,
            contact_at = greatest(r.contact_at, $5),
            category = $3,
            manage_url = coalesce(r.manage_url, $11),
            ticket_id = coalesce($12, r.ticket_id),
            qr_text = coalesce($13, r.qr_text)
        RETURNING *
        """,
        registration_id,
        event,
        category,
        status,
        at,
        contact["name"],
        contact.get("email"),
        contact.get("phone"),
        contact["language"],
        contact.get("notify_by") or "email",
        manage_url,
        ticket_id,
        qr_text,
    )
    return row


async def active_recipients(
    conn: asyncpg.Connection, slug: str, statuses: Sequence[str], *, subscribed_only: bool
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT * FROM recipients
        WHERE event = $1 AND status = ANY($2::text[])
          AND (NOT $3 OR unsubscribed_at IS NULL)
        ORDER BY created_at, registration_id
        """,
        slug,
        list(statuses),
        subscribed_only,
    )
    return rows


async def recipient(conn: asyncpg.Connection, registration_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM recipients WHERE registration_id = $1", registration_id
    )
    return row


async def unsubscribe(conn: asyncpg.Connection, registration_id: uuid.UUID) -> bool:
    done = await conn.execute(
        "UPDATE recipients SET unsubscribed_at = coalesce(unsubscribed_at, now())"
        " WHERE registration_id = $1",
        registration_id,
    )
    return bool(done.endswith(" 1"))


# -- notifications ----------------------------------------------------------------------
JOB_COLUMNS = (
    "id",
    "dedupe_key",
    "registration_id",
    "event",
    "channel",
    "template",
    "language",
    "recipient",
    "context",
    "announcement_id",
    "message_id",
)


async def insert_jobs(conn: asyncpg.Connection, jobs: Sequence[dict[str, Any]]) -> int:
    """Claim and create messages; a key already claimed creates nothing. Returns how many
    were created, and wakes the dispatchers once this transaction commits."""
    if not jobs:
        return 0
    columns = ", ".join(JOB_COLUMNS)
    created: int = await conn.fetchval(
        f"""
        WITH new AS (
            INSERT INTO notifications ({columns})
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[],
                                 $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::uuid[],
                                 $11::text[])
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM new
        """,
        *[[job.get(c) for job in jobs] for c in JOB_COLUMNS],
    )
    if created:
        await conn.execute("SELECT pg_notify($1, '')", JOBS_CHANNEL)
    return created


# The dispatcher's claim: the oldest due message of a channel that no other sender holds.
# The row stays locked while it is rendered and sent, and the lock goes with the
# connection if the process dies, so another sender takes it at once.
CLAIM = """
SELECT n.*, r.status AS registration_status, r.name, r.manage_url,
       e.slug IS NOT NULL AS event_known, e.title AS event_title, e.venue AS event_venue,
       e.starts_at AS event_starts_at, e.ends_at AS event_ends_at,
       e.timezone AS event_timezone
FROM notifications n
LEFT JOIN recipients r USING (registration_id)
LEFT JOIN events e ON e.slug = n.event
WHERE n.id = (
    SELECT id FROM notifications
    WHERE channel = $1 AND status IN ('queued', 'failed') AND next_attempt_at <= now()
    ORDER BY created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
"""


async def claim(conn: asyncpg.Connection, channel: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(CLAIM, channel)
    return row


async def sms_sent_recently(conn: asyncpg.Connection, number: str, *, hours: int) -> int:
    """SMS sent (or on the wire) to ``number`` in the last ``hours``."""
    n: int = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE channel = 'sms' AND recipient = $1"
        " AND status = 'sent' AND sent_at > now() - make_interval(hours => $2)",
        number,
        hours,
    )
    return n


async def mark_skipped(conn: asyncpg.Connection, job_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE notifications SET status = 'skipped', last_error = $2 WHERE id = $1",
        job_id,
        reason,
    )


async def mark_failed(
    conn: asyncpg.Connection,
    job_id: uuid.UUID,
    *,
    error: str,
    retry_in: float | None,
    count_attempt: bool = True,
) -> None:
    """A failed attempt: tried again after ``retry_in`` seconds, or dead when None."""
    await conn.execute(
        """
        UPDATE notifications SET
            status = CASE WHEN $3::float8 IS NULL THEN 'dead' ELSE 'failed' END,
            attempts = attempts + CASE WHEN $4 THEN 1 ELSE 0 END,
            last_error = $2,
            next_attempt_at = now() + make_interval(secs => coalesce($3, 0))
        WHERE id = $1
        """,
        job_id,
        error[:500],
        retry_in,
        count_attempt,
    )


async def list_for_registration(
    conn: asyncpg.Pool, registration_id: uuid.UUID
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, event, channel, template, language, status, attempts, created_at, sent_at,
               last_error, detail
        FROM notifications WHERE registration_id = $1 ORDER BY created_at, id
        """,
        registration_id,
    )
    return rows


async def event_of_registration(conn: asyncpg.Pool, registration_id: uuid.UUID) -> str | None:
    value: str | None = await conn.fetchval(
        """
        SELECT coalesce(
            (SELECT event FROM recipients WHERE registration_id = $1),
            (SELECT event FROM notifications WHERE registration_id = $1 LIMIT 1))
        """,
        registration_id,
    )
    return value


async def summary(conn: asyncpg.Pool, slug: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT channel, template, status, count(*) AS n
        FROM notifications WHERE event = $1
        GROUP BY channel, template, status ORDER BY channel, template, status
        """,
        slug,
    )
    return rows


async def undeliverable(conn: asyncpg.Pool, slug: str, limit: int = 100) -> list[asyncpg.Record]:
    """The newest messages of an event that could not be sent (dead), or are being tried
    again after a failure."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, template, channel, recipient, attempts, last_error, created_at, status
        FROM notifications
        WHERE event = $1 AND (status = 'dead' OR (status = 'failed' AND attempts > 0))
        ORDER BY created_at DESC LIMIT $2
        """,
        slug,
        limit,
    )
    return rows


async def announcement_stats(conn: asyncpg.Pool, slug: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT a.id, a.subject, a.created_at,
               count(n.id) AS total,
               count(n.id) FILTER (WHERE n.status = 'sent') AS sent,
               count(n.id) FILTER (WHERE n.status IN ('queued', 'failed')) AS waiting,
               count(n.id) FILTER (WHERE n.status = 'dead') AS dead,
               count(n.id) FILTER (WHERE n.status = 'skipped') AS skipped
        FROM announcements a LEFT JOIN notifications n ON n.announcement_id = a.id
        WHERE a.event = $1
        GROUP BY a.id ORDER BY a.created_at DESC
        """,
        slug,
    )
    return rows


async def store_announcement(
    conn: asyncpg.Connection,
    announcement_id: uuid.UUID,
    slug: str,
    subject: dict[str, str],
    body: dict[str, str],
) -> None:
    await conn.execute(
        """
        INSERT INTO announcements (id, event, subject, body) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO NOTHING
        """,
        announcement_id,
        slug,
        subject,
        body,
    )


async def announcement(conn: asyncpg.Connection, announcement_id: uuid.UUID) -> Any:
    return await conn.fetchrow("SELECT * FROM announcements WHERE id = $1", announcement_id)


# -- event settings and reminders -------------------------------------------------------
async def event_settings(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM event_settings WHERE event = $1", slug
    )
    if row is None:
        row = await conn.fetchrow(
            "SELECT $1::text AS event, '10:00'::time AS reminder_time,"
            " false AS rally_completed, NULL::timestamptz AS updated_at",
            slug,
        )
    assert row is not None
    return row


async def save_event_settings(
    conn: asyncpg.Pool, slug: str, reminder_time: time | None, rally_completed: bool
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        """
        INSERT INTO event_settings (event, reminder_time, rally_completed) VALUES ($1, $2, $3)
        ON CONFLICT (event) DO UPDATE SET reminder_time = $2, rally_completed = $3,
            updated_at = now()
        RETURNING *
        """,
        slug,
        reminder_time,
        rally_completed,
    )
    return row


async def reminder_candidates(conn: asyncpg.Pool) -> list[asyncpg.Record]:
    """Events still ahead whose reminder for their current start time is not made yet."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT e.slug, e.starts_at, e.timezone,
               CASE WHEN s.event IS NULL THEN '10:00'::time ELSE s.reminder_time END
                   AS reminder_time
        FROM events e LEFT JOIN event_settings s ON s.event = e.slug
        WHERE e.starts_at > now() AND e.reminded_for IS DISTINCT FROM e.starts_at
        """
    )
    return rows


async def lock_event_for_reminder(conn: asyncpg.Connection, slug: str) -> Any:
    return await conn.fetchrow(
        "SELECT starts_at, reminded_for FROM events WHERE slug = $1 FOR UPDATE SKIP LOCKED",
        slug,
    )


async def mark_reminded(conn: asyncpg.Connection, slug: str, starts_at: datetime) -> None:
    await conn.execute("UPDATE events SET reminded_for = $2 WHERE slug = $1", slug, starts_at)


# -- secrets and retention --------------------------------------------------------------
async def secret(conn: asyncpg.Pool, name: str) -> bytes:
    """Notify's own random secret of that name, made once and shared by its replicas."""
    await conn.execute(
        "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        name,
        os.urandom(32),
    )
    value: bytes = await conn.fetchval("SELECT value FROM secrets WHERE name = $1", name)
    return value


async def purge_expired(conn: asyncpg.Pool) -> dict[str, int]:
    """Delete the personal data of events whose retention has ended (their end plus the
    event's retention days): recipients and their messages."""
    async with conn.acquire() as c, c.transaction():
        expired = [
            r["slug"]
            for r in await c.fetch(
                "SELECT slug FROM events"
                " WHERE ends_at + make_interval(days => retention_days) < now()"
            )
        ]
        if not expired:
            return {"recipients": 0, "notifications": 0}
        n = await c.execute("DELETE FROM notifications WHERE event = ANY($1::text[])", expired)
        r = await c.execute("DELETE FROM recipients WHERE event = ANY($1::text[])", expired)
        await c.execute("DELETE FROM announcements WHERE event = ANY($1::text[])", expired)
        return {"recipients": int(r.split()[-1]), "notifications": int(n.split()[-1])}


async def erase_registration(conn: asyncpg.Connection, registration_id: uuid.UUID) -> None:
    """Registration erased this person: forget their contact and messages' contents. The
    rows of the messages stay (their unique keys keep a redelivered fact from sending
    again), emptied; one not yet sent is ``skipped``."""
    await conn.execute(
        "UPDATE notifications SET recipient = '', context = '{}'::jsonb, detail = NULL,"
        " status = CASE WHEN status IN ('queued', 'failed') THEN 'skipped' ELSE status END"
        " WHERE registration_id = $1",
        registration_id,
    )
    await conn.execute("DELETE FROM recipients WHERE registration_id = $1", registration_id)


async def erase_event(conn: asyncpg.Connection, event: str) -> None:
    """The event's retention ended at registration: the same as :func:`purge_expired`
    does by the clock, for this event now."""
    await conn.execute("DELETE FROM notifications WHERE event = $1", event)
    await conn.execute("DELETE FROM recipients WHERE event = $1", event)
    await conn.execute("DELETE FROM announcements WHERE event = $1", event)
