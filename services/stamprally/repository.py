"""Stamprally's SQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.stamprally import domain
from shared.contracts.registration import EventPublished


# -- events -----------------------------------------------------------------------------
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


async def event(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow("SELECT * FROM events WHERE slug = $1", slug)
    return row


# -- read models of tickets, devices, check-ins -------------------------------------------
async def store_ticket(
    conn: asyncpg.Connection,
    *,
    ticket_id: uuid.UUID,
    event: str,
    registration_id: uuid.UUID,
    category: str,
    language: str,
    display_name: str,
    card_key: bytes | None,
    revision: int,
) -> None:
    await conn.execute(
        """
        INSERT INTO tickets AS t (id, event, registration_id, category, language, display_name,
                                  card_key, revision)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (id) DO UPDATE SET
            registration_id = EXCLUDED.registration_id, category = EXCLUDED.category,
            language = EXCLUDED.language, display_name = EXCLUDED.display_name,
            card_key = coalesce(EXCLUDED.card_key, t.card_key), revision = EXCLUDED.revision
        WHERE t.revision < EXCLUDED.revision
        """,
        ticket_id,
        event,
        registration_id,
        category,
        language,
        display_name,
        card_key,
        revision,
    )


async def revoke_ticket(conn: asyncpg.Connection, ticket_id: uuid.UUID, event: str) -> None:
    await conn.execute(
        """
        INSERT INTO tickets (id, event, revoked) VALUES ($1, $2, true)
        ON CONFLICT (id) DO UPDATE SET revoked = true
        """,
        ticket_id,
        event,
    )


async def store_device(conn: asyncpg.Connection, **v: Any) -> None:
    await conn.execute(
        """
        INSERT INTO devices (id, event, role, place, label, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, place = EXCLUDED.place,
            label = EXCLUDED.label, expires_at = EXCLUDED.expires_at
        """,
        v["id"],
        v["event"],
        v["role"],
        v["place"],
        v["label"],
        v["expires_at"],
    )


async def revoke_device(conn: asyncpg.Connection, device_id: uuid.UUID) -> None:
    await conn.execute(
        """
        INSERT INTO devices (id, event, role, place, revoked) VALUES ($1, '', '', '', true)
        ON CONFLICT (id) DO UPDATE SET revoked = true
        """,
        device_id,
    )


async def store_checked_in(
    conn: asyncpg.Connection, ticket_id: uuid.UUID, event: str, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO checked_in (ticket_id, event, at) VALUES ($1, $2, $3)"
        " ON CONFLICT (ticket_id) DO NOTHING",
        ticket_id,
        event,
        at,
    )


# -- the rally --------------------------------------------------------------------------
async def save_rally(conn: asyncpg.Connection, slug: str, r: domain.RallyDraft) -> None:
    """Create or replace an event's rally in the caller's transaction. Booths and prizes
    left out are kept inactive (their stamps and hand-outs stay); a prize's stock cannot
    go below what was already given."""
    await conn.execute(
        """
        INSERT INTO rallies (event, title, min_stamps, required_booths, requires_checkin,
                             opens_at, closes_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (event) DO UPDATE SET title = $2, min_stamps = $3, required_booths = $4,
            requires_checkin = $5, opens_at = $6, closes_at = $7,
            revision = rallies.revision + 1, updated_at = now()
        """,
        slug,
        r.title,
        r.min_stamps,
        list(r.required_booths),
        r.requires_checkin,
        r.opens_at,
        r.closes_at,
    )
    await conn.execute("UPDATE booths SET active = false WHERE event = $1", slug)
    await conn.executemany(
        """
        INSERT INTO booths (event, code, name, kind, position, active, description)
        VALUES ($1, $2, $3, $4, $5, true, $6)
        ON CONFLICT (event, code) DO UPDATE SET name = $3, kind = $4, position = $5,
            active = true, description = $6
        """,
        [(slug, b.code, b.name, b.kind, i, b.description) for i, b in enumerate(r.booths)],
    )
    await conn.execute("UPDATE prizes SET active = false WHERE event = $1", slug)
    await conn.executemany(
        """
        INSERT INTO prizes (event, code, name, stock, position, active)
        VALUES ($1, $2, $3, $4, $5, true)
        ON CONFLICT (event, code) DO UPDATE SET name = $3,
            stock = greatest($4, prizes.given), position = $5, active = true
        """,
        [(slug, p.code, p.name, p.stock, i) for i, p in enumerate(r.prizes)],
    )
    await conn.execute(
        "INSERT INTO rally_counts (event) VALUES ($1) ON CONFLICT (event) DO NOTHING", slug
    )


async def rally(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow("SELECT * FROM rallies WHERE event = $1", slug)
    return row


async def booths(
    conn: asyncpg.Connection | asyncpg.Pool, slug: str, *, active_only: bool = True
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM booths WHERE event = $1 AND (active OR NOT $2) ORDER BY position, code",
        slug,
        active_only,
    )
    return rows


async def prizes(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM prizes WHERE event = $1 AND active ORDER BY position, code", slug
    )
    return rows


# -- scans ------------------------------------------------------------------------------
async def claim_scan(
    conn: asyncpg.Connection, device_id: uuid.UUID, client_scan_id: str, kind: str
) -> Any:
    """Claim a scan's id; None if it was seen before (then the stored answer is returned
    by :func:`stored_answer`)."""
    return await conn.fetchval(
        """
        INSERT INTO scan_answers (device_id, client_scan_id, kind) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        device_id,
        client_scan_id,
        kind,
    )


async def stored_answer(
    conn: asyncpg.Connection, device_id: uuid.UUID, client_scan_id: str
) -> dict[str, Any] | None:
    value: dict[str, Any] | None = await conn.fetchval(
        "SELECT response FROM scan_answers WHERE device_id = $1 AND client_scan_id = $2",
        device_id,
        client_scan_id,
    )
    return value


async def record_answer(
    conn: asyncpg.Connection,
    device_id: uuid.UUID,
    client_scan_id: str,
    ticket_id: uuid.UUID | None,
    response: dict[str, Any],
) -> None:
    await conn.execute(
        """
        UPDATE scan_answers SET ticket_id = $3, result = $4, reason = $5, response = $6
        WHERE device_id = $1 AND client_scan_id = $2
        """,
        device_id,
        client_scan_id,
        ticket_id,
        response.get("result"),
        response.get("reason"),
        response,
    )


async def scan_facts(
    conn: asyncpg.Connection, device_id: uuid.UUID | None, ticket_id: uuid.UUID | None
) -> asyncpg.Record:
    """In one round trip: is the device revoked, the ticket as known here (columns NULL
    when unknown), and was it admitted at an entrance."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        SELECT coalesce((SELECT revoked FROM devices WHERE id = $1), false) AS device_revoked,
               t.id, t.revoked, t.registration_id, t.display_name, t.language,
               EXISTS (SELECT 1 FROM checked_in WHERE ticket_id = $2) AS checked_in
        FROM (SELECT 1) AS one LEFT JOIN tickets t ON t.id = $2
        """,
        device_id,
        ticket_id,
    )
    return row


async def device_revoked(conn: asyncpg.Connection, device_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT revoked FROM devices WHERE id = $1", device_id))


async def ticket(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: uuid.UUID) -> Any:
    return await conn.fetchrow("SELECT * FROM tickets WHERE id = $1", ticket_id)


async def is_checked_in(conn: asyncpg.Connection, ticket_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM checked_in WHERE ticket_id = $1", ticket_id))


async def lock_card(conn: asyncpg.Connection, ticket_id: uuid.UUID, event: str) -> Any:
    """The ticket's card, made if needed and locked (the upsert takes the row lock in the
    same round trip): two booths' stamps take turns here."""
    return await conn.fetchrow(
        """
        INSERT INTO cards (ticket_id, event) VALUES ($1, $2)
        ON CONFLICT (ticket_id) DO UPDATE SET event = cards.event
        RETURNING *
        """,
        ticket_id,
        event,
    )


async def stamped_booths(
    conn: asyncpg.Connection | asyncpg.Pool, ticket_id: uuid.UUID
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT booth, at FROM stamps WHERE ticket_id = $1 ORDER BY at, booth", ticket_id
    )
    return rows


async def add_stamp(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    booth: str,
    event: str,
    device_id: uuid.UUID | None,
    at: datetime,
) -> bool:
    """The stamp, once per (ticket, booth): False if that booth had stamped it already."""
    return bool(
        await conn.fetchval(
            """
            INSERT INTO stamps (ticket_id, booth, event, device_id, at)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true
            """,
            ticket_id,
            booth,
            event,
            device_id,
            at,
        )
    )


async def count_stamp(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    event: str,
    booth: str,
    completed_at: datetime | None,
) -> int:
    """Keep the counters with the stamp, in one statement: the card's count (and its
    completion), the booth's, and the rally's completions."""
    stamps: int = await conn.fetchval(
        """
        WITH card AS (
            UPDATE cards SET stamps = stamps + 1, completed_at = coalesce(completed_at, $4)
            WHERE ticket_id = $1 RETURNING stamps
        ), per_booth AS (
            INSERT INTO booth_counts AS b (event, booth, stamps) VALUES ($2, $3, 1)
            ON CONFLICT (event, booth) DO UPDATE SET stamps = b.stamps + 1
        ), completions AS (
            INSERT INTO rally_counts AS r (event, completed)
            SELECT $2, 1 WHERE $4::timestamptz IS NOT NULL
            ON CONFLICT (event) DO UPDATE SET completed = r.completed + 1
        )
        SELECT stamps FROM card
        """,
        ticket_id,
        event,
        booth,
        completed_at,
    )
    return stamps


async def give_prize(conn: asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    """Hand out the first prize in order that has stock left (its row lock makes
    concurrent desks take turns; stock never goes below zero)."""
    for p in await conn.fetch(
        "SELECT code FROM prizes WHERE event = $1 AND active AND given < stock"
        " ORDER BY position, code",
        slug,
    ):
        row: asyncpg.Record | None = await conn.fetchrow(
            """
            UPDATE prizes SET given = given + 1
            WHERE event = $1 AND code = $2 AND given < stock RETURNING code, name
            """,
            slug,
            p["code"],
        )
        if row is not None:
            return row
    return None


async def stock_left(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(stock - given), 0) FROM prizes WHERE event = $1 AND active",
            slug,
        )
    )


async def mark_redeemed(
    conn: asyncpg.Connection, ticket_id: uuid.UUID, prize: str, device_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE cards SET redeemed_at = now(), prize = $2, redeemed_by = $3 WHERE ticket_id = $1",
        ticket_id,
        prize,
        device_id,
    )
    await conn.execute(
        """
        INSERT INTO rally_counts AS r (event, redeemed)
        SELECT event, 1 FROM cards WHERE ticket_id = $1
        ON CONFLICT (event) DO UPDATE SET redeemed = r.redeemed + 1
        """,
        ticket_id,
    )


# -- statistics -------------------------------------------------------------------------
async def snapshot(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> dict[str, Any]:
    """The live counts, from the counters kept with each write (no table scans)."""
    by_booth = {
        r["code"]: r["stamps"]
        for r in await conn.fetch(
            """
            SELECT b.code, coalesce(c.stamps, 0) AS stamps
            FROM booths b LEFT JOIN booth_counts c ON c.event = b.event AND c.booth = b.code
            WHERE b.event = $1 AND b.active ORDER BY b.position, b.code
            """,
            slug,
        )
    }
    counts = await conn.fetchrow("SELECT * FROM rally_counts WHERE event = $1", slug)
    left = {
        r["code"]: r["stock"] - r["given"]
        for r in await conn.fetch(
            "SELECT code, stock, given FROM prizes WHERE event = $1 AND active"
            " ORDER BY position, code",
            slug,
        )
    }
    return {
        "stamps_by_booth": by_booth,
        "completed": counts["completed"] if counts else 0,
        "redeemed": counts["redeemed"] if counts else 0,
        "prizes_left": left,
    }


async def completions_by_hour(pool: asyncpg.Pool, slug: str, tz: str) -> dict[str, int]:
    rows = await pool.fetch(
        """
        SELECT to_char(date_trunc('hour', completed_at AT TIME ZONE $2), 'YYYY-MM-DD"T"HH24:00')
               AS hour, count(*) AS n
        FROM cards WHERE event = $1 AND completed_at IS NOT NULL GROUP BY 1 ORDER BY 1
        """,
        slug,
        tz,
    )
    return {r["hour"]: r["n"] for r in rows}


async def stamp_histogram(pool: asyncpg.Pool, slug: str, checked_in_too: bool) -> dict[str, int]:
    """How many cards have 1, 2, … stamps; with "0" for tickets admitted at the entrance
    that have none (when check-ins are known)."""
    rows = await pool.fetch(
        "SELECT stamps, count(*) AS n FROM cards WHERE event = $1 AND stamps > 0 GROUP BY 1",
        slug,
    )
    histogram = {str(r["stamps"]): r["n"] for r in rows}
    zero = 0
    if checked_in_too:
        zero = await pool.fetchval(
            """
            SELECT count(*) FROM checked_in i
            WHERE i.event = $1 AND NOT EXISTS (
                SELECT 1 FROM cards c WHERE c.ticket_id = i.ticket_id AND c.stamps > 0)
            """,
            slug,
        )
    return {"0": int(zero), **histogram}


async def fast_devices(pool: asyncpg.Pool, slug: str, per_minute: int) -> list[dict[str, Any]]:
    """Devices that stamped more than ``per_minute`` in one clock minute."""
    rows = await pool.fetch(
        """
        SELECT s.device_id, d.place, d.label, date_trunc('minute', s.at) AS minute,
               count(*) AS n
        FROM stamps s LEFT JOIN devices d ON d.id = s.device_id
        WHERE s.event = $1 AND s.device_id IS NOT NULL
        GROUP BY 1, 2, 3, 4 HAVING count(*) > $2 ORDER BY minute DESC LIMIT 100
        """,
        slug,
        per_minute,
    )
    return [
        {
            "device_id": str(r["device_id"]),
            "booth": r["place"],
            "label": r["label"] or "",
            "minute": r["minute"].isoformat(),
            "stamps": r["n"],
        }
        for r in rows
    ]


async def quick_hops(pool: asyncpg.Pool, slug: str, seconds: float) -> list[dict[str, Any]]:
    """Tickets stamped at two different booths less than ``seconds`` apart."""
    rows = await pool.fetch(
        """
        SELECT ticket_id, booth, at, prev_booth, prev_at FROM (
            SELECT ticket_id, booth, at,
                   lag(booth) OVER w AS prev_booth, lag(at) OVER w AS prev_at
            FROM stamps WHERE event = $1
            WINDOW w AS (PARTITION BY ticket_id ORDER BY at)
        ) x
        WHERE prev_at IS NOT NULL AND at - prev_at < make_interval(secs => $2)
        ORDER BY at DESC LIMIT 100
        """,
        slug,
        seconds,
    )
    return [
        {
            "ticket_id": str(r["ticket_id"]),
            "booths": [r["prev_booth"], r["booth"]],
            "seconds": round((r["at"] - r["prev_at"]).total_seconds(), 1),
            "at": r["at"].isoformat(),
        }
        for r in rows
    ]


async def secret(pool: asyncpg.Pool, name: str) -> bytes:
    await pool.execute(
        "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        name,
        os.urandom(32),
    )
    value: bytes = await pool.fetchval("SELECT value FROM secrets WHERE name = $1", name)
    return value


def required_list(row: Any) -> Sequence[str]:
    return list(row["required_booths"] or [])
