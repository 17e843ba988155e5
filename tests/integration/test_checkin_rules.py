"""The scan's decision is made in SQL (checkin_scan, one round trip) and written down in
Python (domain.decide, pure). Every case runs through both: they must agree."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.checkin import domain
from services.checkin.app import DEFINITION
from shared import db
from shared.runtime import INFRA_MIGRATIONS

CASES = list(itertools.product(("in", "out"), (None, True, False), (False, True), (False, True)))


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await db.apply_migrations(database_url, "checkin", INFRA_MIGRATIONS, table="infra_migrations")
    await db.apply_migrations(database_url, "checkin", DEFINITION.migrations)
    p = await db.create_pool(database_url, "checkin", min_size=1, max_size=2)
    yield p
    await p.close()


@pytest.mark.parametrize(("direction", "inside", "revoked", "reentry"), CASES)
async def test_sql_decision_equals_the_domain_rule(
    pool: asyncpg.Pool, direction: str, inside: bool | None, revoked: bool, reentry: bool
) -> None:
    slug, ticket, device = f"rules-{uuid.uuid4().hex[:8]}", uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO events (slug, title, starts_at, ends_at, timezone, revision)"
        " VALUES ($1, '{}', $2, $3, 'Asia/Tokyo', 1)",
        slug,
        now,
        now + timedelta(hours=1),
    )
    await pool.execute(
        "INSERT INTO categories (event_slug, code, title, reentry) VALUES ($1, 'c', '{}', $2)",
        slug,
        reentry,
    )
    await pool.execute(
        "INSERT INTO tickets (id, event_slug, category, party_size, display_name, language,"
        " revision, revoked) VALUES ($1, $2, 'c', 3, 'A', 'ja', 1, $3)",
        ticket,
        slug,
        revoked,
    )
    if inside is not None:
        await pool.execute(
            "INSERT INTO presence (ticket_id, event_slug, inside, people, entries, first_gate,"
            " first_device, first_at, last_gate, last_at) VALUES ($1, $2, $3, 3, 1, 'g', $4,"
            " $5, 'g', $5)",
            ticket,
            slug,
            inside,
            device,
            now,
        )
    answer = await pool.fetchval(
        "SELECT checkin_scan($1, 'x', $2, 'g', $3, $4, $4, $5, NULL, NULL, $6, 't.checkin.',"
        " NULL, $7)",
        device,
        slug,
        direction,
        now,
        ticket,
        uuid.uuid4(),
        domain.OFFLINE_AFTER,
    )
    presence = None if inside is None else domain.Presence(inside=inside, entries=1)
    expected = domain.decide(direction, presence, revoked=revoked, reentry=reentry)  # type: ignore[arg-type]
    got = answer["response"]
    assert (got["result"], got.get("reason")) == (expected.result, expected.reason)
