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


async def ticket_by_number(conn: asyncpg.Connection, slug: str, number: str) -> uuid.UUID | None:
    """The event's ticket whose id ends with the typed number (registered tickets only)."""
    value: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM tickets WHERE event_slug = $1"
        " AND right(replace(id::text, '-', ''), 12) = $2 AND party_size IS NOT NULL",
        slug,
        number,
    )
    return value


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
async def claim_scan(conn: asyncpg.Connection, **values: Any) -> tuple[bool, bool]:
    """Insert the scan row: (fresh, device revoked). Not fresh if this (device,
    client_scan_id) was seen before (a concurrent retry waits here for the first)."""
    row = await conn.fetchrow(
        "WITH claim AS (INSERT INTO scans (device_id, client_scan_id, event_slug, gate,"
        " direction, scanned_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT DO NOTHING RETURNING true AS fresh)"
        " SELECT EXISTS (SELECT 1 FROM claim) AS fresh,"
        " COALESCE((SELECT revoked FROM devices WHERE id = $1), false) AS revoked",
        values["device_id"],
        values["client_scan_id"],
        values["event_slug"],
        values["gate"],
        values["direction"],
        values["scanned_at"],
        values["received_at"],
    )
    assert row is not None
    return bool(row["fresh"]), bool(row["revoked"])


async def first_answer(conn: asyncpg.Connection, device_id: uuid.UUID, client_scan_id: str) -> Any:
    return await conn.fetchval(
        "SELECT response FROM scans WHERE device_id = $1 AND client_scan_id = $2",
        device_id,
        client_scan_id,
    )


async def finish_scan(
    conn: asyncpg.Connection, device_id: uuid.UUID, client_scan_id: str, **v: Any
) -> None:
    await conn.execute(
        "UPDATE scans SET ticket_id = $3, result = $4, reason = $5, offline_duplicate = $6,"
        " response = $7 WHERE device_id = $1 AND client_scan_id = $2",
        device_id,
        client_scan_id,
        v["ticket_id"],
        v["result"],
        v["reason"],
        v["offline_duplicate"],
        v["response"],
    )


async def ticket_for_scan(conn: asyncpg.Connection, ticket_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT t.*, COALESCE(c.reentry, false) AS reentry FROM tickets t"
        " LEFT JOIN categories c ON c.event_slug = t.event_slug AND c.code = t.category"
        " WHERE t.id = $1",
        ticket_id,
    )


async def lock_presence(conn: asyncpg.Connection, ticket_id: uuid.UUID) -> asyncpg.Record | None:
    """The ticket's presence row, locked: two gates scanning one ticket take turns here."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", str(ticket_id))
    return await conn.fetchrow("SELECT * FROM presence WHERE ticket_id = $1", ticket_id)


async def admit(
    conn: asyncpg.Connection,
    slug: str,
    ticket_id: uuid.UUID,
    gate: str,
    device_id: uuid.UUID,
    people: int,
    at: Any,
    first: bool,
) -> None:
    if first:
        await conn.execute(
            "INSERT INTO presence (ticket_id, event_slug, inside, people, entries, first_gate,"
            " first_device, first_at, last_gate, last_at)"
            " VALUES ($1, $2, true, $3, 1, $4, $5, $6, $4, $6)"
            # Never taken while the caller holds the ticket's lock; without it (the
            # control run), two gates would both "admit" here.
            " ON CONFLICT (ticket_id) DO UPDATE SET entries = presence.entries + 1",
            ticket_id,
            slug,
            people,
            gate,
            device_id,
            at,
        )
    else:
        await conn.execute(
            "UPDATE presence SET inside = true, entries = entries + 1, last_gate = $2,"
            " last_at = $3 WHERE ticket_id = $1",
            ticket_id,
            gate,
            at,
        )
    await _count(conn, slug, gate, device_id, 1 if first else 0, people if first else 0, people)


async def exit_(
    conn: asyncpg.Connection,
    slug: str,
    ticket_id: uuid.UUID,
    gate: str,
    device_id: uuid.UUID,
    people: int,
    at: Any,
) -> None:
    await conn.execute(
        "UPDATE presence SET inside = false, last_gate = $2, last_at = $3 WHERE ticket_id = $1",
        ticket_id,
        gate,
        at,
    )
    await _count(conn, slug, gate, device_id, 0, 0, -people)


async def _count(
    conn: asyncpg.Connection,
    slug: str,
    gate: str,
    device_id: uuid.UUID,
    parties: int,
    admitted: int,
    inside: int,
) -> None:
    """The device's own counter row: no two devices contend for one."""
    await conn.execute(
        "INSERT INTO gate_counts (event_slug, gate, device_id, admitted_parties,"
        " admitted_people, inside_people) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (event_slug, gate, device_id) DO UPDATE SET"
        " admitted_parties = gate_counts.admitted_parties + EXCLUDED.admitted_parties,"
        " admitted_people = gate_counts.admitted_people + EXCLUDED.admitted_people,"
        " inside_people = gate_counts.inside_people + EXCLUDED.inside_people",
        slug,
        gate,
        device_id,
        parties,
        admitted,
        inside,
    )


async def counts(pool: asyncpg.Pool | asyncpg.Connection, slug: str) -> dict[str, Any]:
    """The live numbers: counters kept with each scan, plus an indexed count of the last
    minute's scans."""
    gates = await pool.fetch(
        "SELECT g.gate, sum(g.admitted_parties)::int AS admitted_parties,"
        " sum(g.admitted_people)::int AS admitted_people,"
        " sum(g.inside_people)::int AS inside_people,"
        " (SELECT count(*) FROM scans s WHERE s.event_slug = g.event_slug AND s.gate = g.gate"
        "  AND s.received_at > now() - interval '1 minute') AS last_minute"
        " FROM gate_counts g WHERE g.event_slug = $1 GROUP BY g.event_slug, g.gate"
        " ORDER BY g.gate",
        slug,
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
            }
            for g in gates
        },
        "scans_last_minute": sum(g["last_minute"] for g in gates),
    }


async def offline_duplicates(pool: asyncpg.Pool, slug: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT device_id, client_scan_id, gate, ticket_id, scanned_at, received_at"
        " FROM scans WHERE event_slug = $1 AND offline_duplicate ORDER BY scanned_at",
        slug,
    )
