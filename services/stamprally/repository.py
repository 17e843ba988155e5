"""Stamprally's SQL."""

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
        INSERT INTO events (slug, title, starts_at, ends_at, timezone, revision)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (slug) DO UPDATE SET
            title = EXCLUDED.title, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
            timezone = EXCLUDED.timezone, revision = EXCLUDED.revision, updated_at = now()
        """,
        e.slug,
        e.title,
        e.starts_at,
        e.ends_at,
        e.timezone,
        e.revision,
    )
