"""The reads only the console needs (summaries for people planning an event). They live
here rather than in ``repository.py`` because that module belongs to another engineer's
change; they are plain reads with ``$n`` parameters and could move there as they are."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.registration.organizers import Organizer

ACTIVE = ("confirmed", "waitlisted", "pending_review")


async def event_slugs(pool: asyncpg.Pool, org: Organizer) -> list[str]:
    """The events this organizer may manage (every event for an admin)."""
    if org.role == "admin":
        rows = await pool.fetch("SELECT slug FROM events ORDER BY starts_at, slug")
    else:
        rows = await pool.fetch(
            "SELECT slug FROM events WHERE slug = ANY($1::text[]) ORDER BY starts_at, slug",
            list(org.events),
        )
    return [r["slug"] for r in rows]


async def status_counts(pool: asyncpg.Pool, slug: str) -> dict[tuple[str, str], asyncpg.Record]:
    """Parties and people per (category, status)."""
    rows = await pool.fetch(
        "SELECT category_code, status, count(*) AS parties, sum(party_size) AS people"
        " FROM registrations WHERE event_slug = $1 GROUP BY category_code, status",
        slug,
    )
    return {(r["category_code"], r["status"]): r for r in rows}


async def language_counts(pool: asyncpg.Pool, slug: str) -> list[asyncpg.Record]:
    """Active parties and people per language, most first: where interpreters go."""
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT language, count(*) AS parties, sum(party_size) AS people FROM registrations"
        " WHERE event_slug = $1 AND status = ANY($2::text[])"
        " GROUP BY language ORDER BY people DESC, language",
        slug,
        list(ACTIVE),
    )
    return rows


async def answer_counts(pool: asyncpg.Pool, slug: str, key: str) -> list[asyncpg.Record]:
    """Active parties and people per value of one answer field, per category."""
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT category_code, answers ->> $2 AS value, count(*) AS parties,"
        " sum(party_size) AS people FROM registrations"
        " WHERE event_slug = $1 AND status = ANY($3::text[]) AND answers ? $2"
        " GROUP BY category_code, value ORDER BY category_code, people DESC, value",
        slug,
        key,
        list(ACTIVE),
    )
    return rows


async def registrations_in(pool: asyncpg.Pool, slug: str, code: str) -> int:
    """Registrations of any status in a category (they keep it from being removed)."""
    n: int = await pool.fetchval(
        "SELECT count(*) FROM registrations WHERE event_slug = $1 AND category_code = $2",
        slug,
        code,
    )
    return n


async def assign_event(pool: asyncpg.Pool, organizer_id: uuid.UUID, slug: str) -> None:
    """An organizer who creates an event manages it (as the API's create does)."""
    await pool.execute(
        "UPDATE organizers SET events = array_append(events, $2)"
        " WHERE id = $1 AND NOT ($2 = ANY(events))",
        organizer_id,
        slug,
    )


async def announcements(pool: asyncpg.Pool, slug: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT id, subject, created_at FROM announcements WHERE event_slug = $1"
        " ORDER BY created_at DESC LIMIT $2",
        slug,
        limit,
    )
    return [dict(r) for r in rows]


async def device_event(pool: asyncpg.Pool, device_id: uuid.UUID) -> str | None:
    slug: str | None = await pool.fetchval(
        "SELECT event_slug FROM devices WHERE id = $1", device_id
    )
    return slug
