"""Checkin's SQL."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.contracts.registration import EventPublished, TicketIssued


# -- events (read model) ----------------------------------------------------------------
async def held_revision(conn: asyncpg.Connection, slug: str) -> int | None:
    """The revision held for ``slug``, locking the row until the transaction ends."""
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
    await conn.execute("DELETE FROM categories WHERE event_slug = $1", e.slug)
    await conn.executemany(
        "INSERT INTO categories (event_slug, code, title, reentry) VALUES ($1, $2, $3, $4)",
        [(e.slug, c.code, c.title, c.reentry) for c in e.categories],
    )


async def get_event(pool: asyncpg.Pool, slug: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM events WHERE slug = $1", slug)


# -- tickets and devices (read model) ---------------------------------------------------
async def store_ticket(conn: asyncpg.Connection, slug: str, t: TicketIssued) -> int | None:
    """Keep the newest revision; a revocation that arrived first stays. Returns the party
    size held before (None if unknown), so counters can follow a late party size."""
    before = await conn.fetchrow(
        "SELECT party_size, revision FROM tickets WHERE id = $1 FOR UPDATE", t.ticket_id
    )
    if before is not None and before["revision"] >= t.revision:
        return before["party_size"]  # type: ignore[no-any-return]
    await conn.execute(
        """
        INSERT INTO tickets (id, event_slug, registration_id, category, party_size,
                             display_name, language, revision)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (id) DO UPDATE SET
            registration_id = EXCLUDED.registration_id, category = EXCLUDED.category,
            party_size = EXCLUDED.party_size, display_name = EXCLUDED.display_name,
            language = EXCLUDED.language, revision = EXCLUDED.revision, updated_at = now()
        """,
        t.ticket_id,
        slug,
        t.registration_id,
        t.category,
        t.party_size,
        t.display_name,
        t.language,
        t.revision,
    )
    return before["party_size"] if before is not None else None


async def revoke_ticket(
    conn: asyncpg.Connection, slug: str, ticket_id: uuid.UUID, reason: str
) -> None:
    await conn.execute(
        "INSERT INTO tickets (id, event_slug, revoked, revoked_reason) VALUES ($1, $2, true, $3)"
        " ON CONFLICT (id) DO UPDATE SET revoked = true, revoked_reason = EXCLUDED.revoked_reason,"
        " updated_at = now()",
        ticket_id,
        slug,
        reason,
    )


async def revoked_since(pool: asyncpg.Pool, slug: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT id FROM tickets WHERE event_slug = $1 AND revoked ORDER BY id", slug
    )
    return [str(r["id"]) for r in rows]


async def store_device(conn: asyncpg.Connection, slug: str, **values: Any) -> None:
    await conn.execute(
        "INSERT INTO devices (id, event_slug, role, place, label, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET"
        " role = EXCLUDED.role, place = EXCLUDED.place, label = EXCLUDED.label,"
        " expires_at = EXCLUDED.expires_at",
        values["device_id"],
        slug,
        values["role"],
        values["place"],
        values["label"],
        values["expires_at"],
    )
    if values["role"] == "gate":
        await conn.execute(
            "INSERT INTO gate_counts (event_slug, gate, device_id) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            slug,
            values["place"],
            values["device_id"],
        )


async def revoke_device(conn: asyncpg.Connection, device_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO devices (id, event_slug, role, place, revoked) VALUES ($1, '', '', '', true)"
        " ON CONFLICT (id) DO UPDATE SET revoked = true",
        device_id,
    )


async def device_revoked(pool: asyncpg.Pool, device_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval("SELECT revoked FROM devices WHERE id = $1", device_id))


# -- scans ------------------------------------------------------------------------------


async def counts(pool: asyncpg.Pool | asyncpg.Connection, slug: str) -> dict[str, Any]:
    """The live numbers: counters kept with each scan (the last minute's scans from the
    10-second buckets of ``scan_counts``: the buckets that began less than a minute ago)."""
    gates = await pool.fetch(
        "SELECT g.gate, sum(g.admitted_parties)::int AS admitted_parties,"
        " sum(g.admitted_people)::int AS admitted_people,"
        " sum(g.inside_people)::int AS inside_people,"
        " max(g.last_scan_at) AS last_scan_at,"
        " (SELECT coalesce(sum(c.scans), 0) FROM scan_counts c"
        "  WHERE c.event_slug = g.event_slug AND c.gate = g.gate"
        "  AND c.bucket > now() - interval '1 minute') AS last_minute"
        " FROM gate_counts g WHERE g.event_slug = $1 GROUP BY g.event_slug, g.gate"
        " ORDER BY g.gate",
        slug,
    )
    zone = await pool.fetchval("SELECT timezone FROM events WHERE slug = $1", slug)
    # The latest local day with arrivals only: its "HH:MM" keys would collide with those
    # of another day (a two-day fair, a phone's offline scans from the day before).
    arrivals = await pool.fetch(
        "WITH b AS (SELECT bucket AT TIME ZONE $2 AS local, people FROM arrivals"
        "  WHERE event_slug = $1)"
        " SELECT to_char(local, 'HH24:MI') AS at, to_char(local, 'YYYY-MM-DD') AS day,"
        " sum(people)::int AS people FROM b"
        " WHERE local::date = (SELECT max(local::date) FROM b)"
        " GROUP BY local ORDER BY local",
        slug,
        zone or "Asia/Tokyo",
    )
    return {
        "admitted_parties": sum(g["admitted_parties"] for g in gates),
        "admitted_people": sum(g["admitted_people"] for g in gates),
        "inside_people": sum(g["inside_people"] for g in gates),
        "by_gate": {
            g["gate"]: {
                "admitted_people": g["admitted_people"],
                "inside_people": g["inside_people"],
                "scans_last_minute": g["last_minute"],
                "last_scan_at": g["last_scan_at"].isoformat() if g["last_scan_at"] else None,
            }
            for g in gates
        },
        "scans_last_minute": sum(g["last_minute"] for g in gates),
        # First arrivals per 5 minutes of arrivals_day, in the event's local time
        # ("10:05": people).
        "arrivals_by_5min": {r["at"]: r["people"] for r in arrivals},
        "arrivals_day": arrivals[0]["day"] if arrivals else None,
    }


async def offline_duplicates(pool: asyncpg.Pool, slug: str) -> list[asyncpg.Record]:
    """The later admissions of tickets admitted offline on two phones, with the phone's
    label."""
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT s.device_id, s.client_scan_id, s.gate, s.ticket_id, s.scanned_at,"
        " s.received_at, coalesce(d.label, '') AS label"
        " FROM scans s LEFT JOIN devices d ON d.id = s.device_id"
        " WHERE s.event_slug = $1 AND s.offline_duplicate ORDER BY s.scanned_at",
        slug,
    )
    return rows
