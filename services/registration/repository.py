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


# A registration's arguments to registration_register (migrations/0004): the
# registration's columns, the ticket's, the correlation id, the facts of both outcomes as
# six arrays, the idempotency key and request hash, and the two possible answers.
RegisterArgs = tuple[Any, ...]
_OUTBOX_AT = slice(19, 25)  # where the six fact arrays sit in RegisterArgs
REGISTER_ONE = "SELECT registration_register(" + ", ".join(f"${i}" for i in range(1, 30)) + ")"
REGISTER_MANY = (
    "SELECT registration_register_many($1::uuid[], $2::text[], $3::text[], $4::text[],"
    " $5::text[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::jsonb[],"
    " $11::text[], $12::bytea[], $13::boolean[], $14::uuid[], $15::uuid[], $16::text[],"
    " $17::text[], $18::bytea[], $19::text[], $20::integer[], $21::uuid[], $22::text[],"
    " $23::text[], $24::bytea[], $25::boolean[], $26::boolean[], $27::text[],"
    " $28::bytea[], $29::jsonb[], $30::jsonb[])"
)


def register_args(
    *,
    registration: dict[str, Any],
    ticket: dict[str, Any] | None,
    outbox_rows: list[tuple[Any, str, str, bytes, bool, bool]],
    correlation_id: str | None,
    idempotency: tuple[str, bytes] | None,
    answers: tuple[dict[str, Any], dict[str, Any]],
) -> RegisterArgs:
    """One registration for ``registration_register``: it takes the category row's lock,
    decides against the latest committed counts, moves the counters, inserts the
    registration (confirmed, or waiting with its place in the queue), its ticket if
    confirmed, the facts of the outcome (the queue place patched in), and the idempotency
    record with its answer, in one call.

    The lock is held only while PostgreSQL runs that call and commits it; no round trip to
    this process happens in between, which is what a hot row's throughput depends on. A
    duplicate registration or a reused idempotency key aborts the whole call (unique
    violation), so nothing is half-written.

    ``outbox_rows``: (id, subject, type, body, for_fits, patch_position) for both outcomes.
    ``answers``: the API answer if confirmed, and if waiting (position patched in).
    Without a ``ticket`` only waiting is possible: if the party would fit, nothing is
    written and the answer is None, for the caller to come back with a ticket."""
    r = registration
    ids, subjects, types, bodies, for_fits, patches = zip(*outbox_rows, strict=True)
    key, request_hash = idempotency or (None, None)
    return (
        *(r[c] for c in REGISTRATION_COLUMNS),
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


def register_decided(answer: list[Any] | None) -> tuple[bool, int] | None:
    """(fits, the category's waiting parties) from registration_register's answer."""
    if answer is None:
        return None  # it would fit, and no ticket was prepared: nothing written
    return bool(answer[0]), int(answer[1])


async def register_one(pool: asyncpg.Pool, args: RegisterArgs) -> tuple[bool, int] | None:
    return register_decided(await pool.fetchval(REGISTER_ONE, *args))


async def register_many(
    pool: asyncpg.Pool, batch: list[RegisterArgs]
) -> list[tuple[bool, int] | None]:
    """Several registrations in one call and one transaction (registration_register_many):
    the same arguments as :func:`register_one`, each as an array, the facts of all items
    flattened with the position (1-based) of the item each belongs to."""
    columns = [list(c) for c in zip(*batch, strict=True)]
    item_of: list[int] = []
    facts: list[list[Any]] = [[] for _ in range(6)]
    for n, args in enumerate(batch, start=1):
        rows = args[_OUTBOX_AT]
        item_of.extend([n] * len(rows[0]))
        for flat, values in zip(facts, rows, strict=True):
            flat.extend(values)
    params = [*columns[:19], item_of, *facts, *columns[25:]]
    answers: list[Any] = await pool.fetchval(REGISTER_MANY, *params)
    return [register_decided(a) for a in answers]


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
