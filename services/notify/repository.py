"""Notify's SQL."""

from __future__ import annotations

import asyncpg

from shared.contracts.registration import EventPublished


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
