"""Registration's SQL. Rows in, domain objects out; ``$n`` parameters only."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import asyncpg

from services.registration.domain import Category, EventDraft


def _category_fields(cat: Category) -> list[dict[str, Any]]:
    return [asdict(f) for f in cat.fields]


async def upsert_event(conn: asyncpg.Connection, draft: EventDraft) -> int:
    """Insert or update an event and replace its categories; return its new revision.

    Categories are replaced by code: ones that disappear are deleted (the registration
    capability will refuse that while a category has registrations)."""
    revision: int = await conn.fetchval(
        """
        INSERT INTO events (slug, kind, title, description, venue, venue_map_url, starts_at,
                            ends_at, timezone, registration_opens_at, registration_closes_at,
                            retention_days, public)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (slug) DO UPDATE SET
            kind = EXCLUDED.kind, title = EXCLUDED.title, description = EXCLUDED.description,
            venue = EXCLUDED.venue, venue_map_url = EXCLUDED.venue_map_url,
            starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
            timezone = EXCLUDED.timezone,
            registration_opens_at = EXCLUDED.registration_opens_at,
            registration_closes_at = EXCLUDED.registration_closes_at,
            retention_days = EXCLUDED.retention_days, public = EXCLUDED.public,
            revision = events.revision + 1, updated_at = now()
        RETURNING revision
        """,
        draft.slug,
        draft.kind,
        draft.title,
        draft.description,
        draft.venue,
        draft.venue_map_url,
        draft.starts_at,
        draft.ends_at,
        draft.timezone,
        draft.registration_opens_at,
        draft.registration_closes_at,
        draft.retention_days,
        draft.public,
    )
    await conn.execute(
        "DELETE FROM categories WHERE event_slug = $1 AND NOT (code = ANY($2::text[]))",
        draft.slug,
        [c.code for c in draft.categories],
    )
    await conn.executemany(
        """
        INSERT INTO categories (event_slug, code, position, title, description, capacity,
                                max_party_size, review, reentry, fields, opens_at, closes_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11, $12)
        ON CONFLICT (event_slug, code) DO UPDATE SET
            position = EXCLUDED.position, title = EXCLUDED.title,
            description = EXCLUDED.description, capacity = EXCLUDED.capacity,
            max_party_size = EXCLUDED.max_party_size, review = EXCLUDED.review,
            reentry = EXCLUDED.reentry, fields = EXCLUDED.fields,
            opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at
        """,
        [
            (
                draft.slug,
                c.code,
                i,
                c.title,
                c.description,
                c.capacity,
                c.max_party_size,
                c.review,
                c.reentry,
                json.dumps(_category_fields(c), ensure_ascii=False),
                c.opens_at,
                c.closes_at,
            )
            for i, c in enumerate(draft.categories)
        ],
    )
    return revision


async def event_exists(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM events WHERE slug = $1", slug))
