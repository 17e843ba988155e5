"""Registration's SQL. Rows in, domain objects out; ``$n`` parameters only."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import asyncpg

from services.registration.domain import Category, Choice, EventDraft, FormField


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
                                max_party_size, review, reentry, fields, opens_at, closes_at,
                                allow_duplicates)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11, $12, $13)
        ON CONFLICT (event_slug, code) DO UPDATE SET
            position = EXCLUDED.position, title = EXCLUDED.title,
            description = EXCLUDED.description, capacity = EXCLUDED.capacity,
            max_party_size = EXCLUDED.max_party_size, review = EXCLUDED.review,
            reentry = EXCLUDED.reentry, fields = EXCLUDED.fields,
            opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at,
            allow_duplicates = EXCLUDED.allow_duplicates
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
                c.allow_duplicates,
            )
            for i, c in enumerate(draft.categories)
        ],
    )
    return revision


async def event_exists(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM events WHERE slug = $1", slug))


# -- reading events ---------------------------------------------------------------------
def _category_from(row: asyncpg.Record) -> Category:
    fields = tuple(
        FormField(
            key=f["key"],
            type=f["type"],
            label=f["label"],
            required=f.get("required", False),
            choices=tuple(Choice(c["value"], c["label"]) for c in f.get("choices", ())),
            max_length=f.get("max_length", 500),
        )
        for f in row["fields"]
    )
    return Category(
        code=row["code"],
        title=row["title"],
        capacity=row["capacity"],
        max_party_size=row["max_party_size"],
        review=row["review"],
        reentry=row["reentry"],
        description=row["description"],
        fields=fields,
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        allow_duplicates=row["allow_duplicates"],
    )


async def load_event(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> EventDraft | None:
    row = await conn.fetchrow("SELECT * FROM events WHERE slug = $1", slug)
    if row is None:
        return None
    cats = await conn.fetch(
        "SELECT * FROM categories WHERE event_slug = $1 ORDER BY position", slug
    )
    return EventDraft(
        slug=row["slug"],
        kind=row["kind"],
        title=row["title"],
        venue=row["venue"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        categories=tuple(_category_from(c) for c in cats),
        description=row["description"],
        venue_map_url=row["venue_map_url"],
        timezone=row["timezone"],
        registration_opens_at=row["registration_opens_at"],
        registration_closes_at=row["registration_closes_at"],
        retention_days=row["retention_days"],
        public=row["public"],
    )


async def category_counts(
    conn: asyncpg.Connection | asyncpg.Pool, slug: str
) -> list[asyncpg.Record]:
    """Capacity and the counters kept with each write, per category, in form order."""
    return await conn.fetch(
        "SELECT code, capacity, confirmed_people, waitlist_people, pending_people,"
        " waitlist_parties FROM categories WHERE event_slug = $1 ORDER BY position",
        slug,
    )


async def public_events(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT slug FROM events WHERE public ORDER BY starts_at, slug")


# -- capacity: decided in one statement each, under the category row's lock -------------
async def take_places(
    conn: asyncpg.Connection, slug: str, code: str, people: int
) -> tuple[bool, int]:
    """Confirm ``people`` if they fit, else count them as waiting: one statement that
    locks the category row, decides against the latest committed counts and moves the
    counters, so the decision and everything the caller writes after it happen under
    the same lock (the row stays locked until the transaction ends). Returns whether they
    fit, and if not, their place in the queue (the number of waiting parties)."""
    row = await conn.fetchrow(
        """
        WITH cur AS (
            SELECT capacity - confirmed_people >= $3 AS fits FROM categories
            WHERE event_slug = $1 AND code = $2 FOR NO KEY UPDATE
        )
        UPDATE categories SET
            confirmed_people = confirmed_people + CASE WHEN cur.fits THEN $3 ELSE 0 END,
            waitlist_people = waitlist_people + CASE WHEN cur.fits THEN 0 ELSE $3 END,
            waitlist_parties = waitlist_parties + CASE WHEN cur.fits THEN 0 ELSE 1 END
        FROM cur WHERE event_slug = $1 AND code = $2
        RETURNING cur.fits, waitlist_parties
        """,
        slug,
        code,
        people,
    )
    assert row is not None
    return bool(row["fits"]), int(row["waitlist_parties"])


async def adjust_counters(
    conn: asyncpg.Connection,
    slug: str,
    code: str,
    *,
    confirmed: int = 0,
    waitlist: int = 0,
    pending: int = 0,
    parties: int = 0,
) -> asyncpg.Record:
    """Move counters by the given amounts (``parties``: waiting parties); return the
    category's capacity and counters."""
    row = await conn.fetchrow(
        "UPDATE categories SET confirmed_people = confirmed_people + $3,"
        " waitlist_people = waitlist_people + $4, pending_people = pending_people + $5,"
        " waitlist_parties = waitlist_parties + $6"
        " WHERE event_slug = $1 AND code = $2"
        " RETURNING capacity, confirmed_people, waitlist_people, pending_people",
        slug,
        code,
        confirmed,
        waitlist,
        pending,
        parties,
    )
    assert row is not None
    return row


REGISTRATION_COLUMNS = (
    "id",
    "event_slug",
    "category_code",
    "name",
    "name_kana",
    "email",
    "phone",
    "language",
    "party_size",
    "answers",
    "notify_by",
    "secret_hash",
    "dup_guard",
    "created_by",
)


async def register_in_one_statement(
    pool: asyncpg.Pool,
    *,
    registration: dict[str, Any],
    ticket: dict[str, Any] | None,
    outbox_rows: list[tuple[Any, str, str, bytes, bool, bool]],
    correlation_id: str | None,
    idempotency: tuple[str, bytes] | None,
    answers: tuple[dict[str, Any], dict[str, Any]],
) -> tuple[bool, int] | None:
    """Register one party in ONE autocommit statement: take the category row's lock,
    decide against the latest committed counts, move the counters, insert the registration
    (confirmed, or waiting with its place in the queue), its ticket if confirmed, the facts
    of the outcome (the queue place patched in), and the idempotency record with its answer.

    The lock is held only while PostgreSQL runs this statement and commits it; no round
    trip to this process happens in between, which is what a hot row's throughput depends
    on. A duplicate registration or a reused idempotency key aborts the whole statement
    (unique violation), so nothing is half-written.

    ``outbox_rows``: (id, subject, type, body, for_fits, patch_position) for both outcomes.
    ``answers``: the API answer if confirmed, and if waiting (position patched in).
    Without a ``ticket`` only waiting is possible: if the party would fit, nothing is
    written and None is returned, for the caller to come back with a ticket."""
    r = registration
    ids, subjects, types, bodies, for_fits, patches = zip(*outbox_rows, strict=True)
    key, request_hash = idempotency or (None, None)
    row = await pool.fetchrow(
        """
        WITH cur AS (
            SELECT capacity - confirmed_people >= $9 AS fits FROM categories
            WHERE event_slug = $2 AND code = $3 FOR NO KEY UPDATE
        ), upd AS (
            UPDATE categories c SET
                confirmed_people = c.confirmed_people + CASE WHEN cur.fits THEN $9 ELSE 0 END,
                waitlist_people = c.waitlist_people + CASE WHEN cur.fits THEN 0 ELSE $9 END,
                waitlist_parties = c.waitlist_parties + CASE WHEN cur.fits THEN 0 ELSE 1 END
            FROM cur WHERE c.event_slug = $2 AND c.code = $3
              AND (NOT cur.fits OR $15::uuid IS NOT NULL)
            RETURNING cur.fits, c.waitlist_parties
        ), reg AS (
            INSERT INTO registrations (id, event_slug, category_code, status, name, name_kana,
                email, phone, language, party_size, answers, notify_by, secret_hash,
                dup_guard, created_by, waitlist_seq)
            SELECT $1, $2, $3, CASE WHEN upd.fits THEN 'confirmed' ELSE 'waitlisted' END,
                   $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                   CASE WHEN upd.fits THEN NULL ELSE nextval('waitlist_order') END
            FROM upd
            RETURNING 1
        ), ticket AS (
            INSERT INTO tickets (id, registration_id, event_slug, kid, qr_text, image_key_hash,
                                 status)
            SELECT $15, $1, $2, $16, $17, $18, 'active' FROM upd WHERE upd.fits
            RETURNING 1
        ), facts AS (
            INSERT INTO outbox (id, subject, event_type, event_slug, body, correlation_id)
            SELECT o.id, o.subject, o.event_type, $2,
                   CASE WHEN o.patch THEN convert_to(jsonb_set(
                            convert_from(o.body, 'UTF8')::jsonb, '{payload,position}',
                            to_jsonb(upd.waitlist_parties))::text, 'UTF8')
                        ELSE o.body END,
                   $19
            FROM unnest($20::uuid[], $21::text[], $22::text[], $23::bytea[], $24::bool[],
                        $25::bool[]) WITH ORDINALITY
                 AS o(id, subject, event_type, body, for_fits, patch, n), upd
            WHERE o.for_fits = upd.fits
            ORDER BY o.n
            RETURNING 1
        ), answer AS (
            INSERT INTO idempotency_keys (key, request_hash, status, response)
            SELECT $26, $27, 201,
                   CASE WHEN upd.fits THEN $28::jsonb
                        ELSE jsonb_set($29::jsonb, '{waitlist_position}',
                                       to_jsonb(upd.waitlist_parties)) END
            FROM upd WHERE $26::text IS NOT NULL
            RETURNING 1
        )
        SELECT upd.fits, upd.waitlist_parties,
               (SELECT count(*) FROM reg) + (SELECT count(*) FROM ticket)
               + (SELECT count(*) FROM facts) + (SELECT count(*) FROM answer) AS written
        FROM upd
        """,
        r["id"],
        r["event_slug"],
        r["category_code"],
        r["name"],
        r["name_kana"],
        r["email"],
        r["phone"],
        r["language"],
        r["party_size"],
        r["answers"],
        r["notify_by"],
        r["secret_hash"],
        r["dup_guard"],
        r["created_by"],
        ticket["id"] if ticket else None,
        ticket["kid"] if ticket else None,
        ticket["qr_text"] if ticket else None,
        ticket["image_key_hash"] if ticket else None,
        correlation_id,
        list(ids),
        list(subjects),
        list(types),
        list(bodies),
        list(for_fits),
        list(patches),
        key,
        request_hash,
        answers[0],
        answers[1],
    )
    if row is None:
        return None  # it would fit, and no ticket was prepared: nothing written
    return bool(row["fits"]), int(row["waitlist_parties"])


async def lock_category(conn: asyncpg.Connection, slug: str, code: str) -> asyncpg.Record:
    """Lock the category row first: every writer takes category → registrations, so two
    changes to one category never deadlock."""
    row = await conn.fetchrow(
        "SELECT capacity, confirmed_people, allow_duplicates FROM categories"
        " WHERE event_slug = $1 AND code = $2 FOR NO KEY UPDATE",
        slug,
        code,
    )
    assert row is not None
    return row


async def waiting_parties(conn: asyncpg.Connection, slug: str, code: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM registrations WHERE event_slug = $1 AND category_code = $2"
        " AND status = 'waitlisted' ORDER BY waitlist_seq FOR UPDATE",
        slug,
        code,
    )


async def waitlist_position(
    conn: asyncpg.Connection | asyncpg.Pool, reg: asyncpg.Record
) -> int | None:
    if reg["status"] != "waitlisted":
        return None
    value: int = await conn.fetchval(
        "SELECT count(*) FROM registrations WHERE event_slug = $1 AND category_code = $2"
        " AND status = 'waitlisted' AND waitlist_seq <= $3",
        reg["event_slug"],
        reg["category_code"],
        reg["waitlist_seq"],
    )
    return value


# -- registrations ----------------------------------------------------------------------
async def insert_registration(conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
    cols = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO registrations ({cols}) VALUES ({params}) RETURNING *", *values.values()
    )
    assert row is not None
    return row


async def set_status(
    conn: asyncpg.Connection, reg_id: Any, status: str, *, waitlisted: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE registrations SET status = $2, updated_at = now(),"
        " waitlist_seq = CASE WHEN $3 THEN nextval('waitlist_order') ELSE NULL END"
        " WHERE id = $1 RETURNING *",
        reg_id,
        status,
        waitlisted,
    )
    assert row is not None
    return row


async def get_registration(
    conn: asyncpg.Connection | asyncpg.Pool, reg_id: Any, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM registrations WHERE id = $1" + (" FOR UPDATE" if lock else ""), reg_id
    )


async def insert_ticket(conn: asyncpg.Connection, **values: Any) -> None:
    cols = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(f"INSERT INTO tickets ({cols}) VALUES ({params})", *values.values())


async def active_ticket(
    conn: asyncpg.Connection | asyncpg.Pool, reg_id: Any
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM tickets WHERE registration_id = $1 AND status = 'active'", reg_id
    )


async def revoke_ticket(conn: asyncpg.Connection, reg_id: Any) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE tickets SET status = 'revoked', revoked_at = now()"
        " WHERE registration_id = $1 AND status = 'active' RETURNING *",
        reg_id,
    )


async def ticket_by_id(pool: asyncpg.Pool, ticket_id: Any) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM tickets WHERE id = $1", ticket_id)


# -- idempotency ------------------------------------------------------------------------
async def claim_idempotency_key(conn: asyncpg.Connection, key: str, request_hash: bytes) -> bool:
    """True if this transaction owns the key; a concurrent claim waits for it to end."""
    return bool(
        await conn.fetchval(
            "INSERT INTO idempotency_keys (key, request_hash) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            key,
            request_hash,
        )
    )


async def stored_answer(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE key = $1", key
    )


async def store_answer(conn: asyncpg.Connection, key: str, status: int, response: Any) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $2, response = $3 WHERE key = $1",
        key,
        status,
        response,
    )


async def list_registrations(
    pool: asyncpg.Pool,
    slug: str,
    *,
    after: tuple[Any, Any] | None,
    limit: int,
    status: str | None = None,
    category: str | None = None,
    language: str | None = None,
    query: str | None = None,
) -> list[asyncpg.Record]:
    """Keyset pagination by (created_at, id)."""
    return await pool.fetch(
        """
        SELECT r.*, (SELECT count(*) FROM registrations w
                     WHERE w.event_slug = r.event_slug AND w.category_code = r.category_code
                       AND w.status = 'waitlisted' AND w.waitlist_seq <= r.waitlist_seq)
                    AS position
        FROM registrations r
        WHERE r.event_slug = $1
          AND ($2::timestamptz IS NULL OR (r.created_at, r.id) > ($2, $3::uuid))
          AND ($5::text IS NULL OR r.status = $5)
          AND ($6::text IS NULL OR r.category_code = $6)
          AND ($7::text IS NULL OR r.language = $7)
          AND ($8::text IS NULL OR r.name ILIKE '%' || $8 || '%' OR r.email ILIKE '%' || $8 || '%'
               OR r.phone LIKE '%' || $8 || '%' OR r.name_kana ILIKE '%' || $8 || '%')
        ORDER BY r.created_at, r.id
        LIMIT $4
        """,
        slug,
        after[0] if after else None,
        after[1] if after else None,
        limit,
        status,
        category,
        language,
        query,
    )
