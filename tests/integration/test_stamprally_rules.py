"""A booth scan is decided in SQL (``stamprally_stamp``, one round trip) and written down in
Python (``domain.decide_stamp`` and ``domain.is_complete``, pure). Every case runs through
both: they must agree, answer and completion alike."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.stamprally import domain
from services.stamprally.app import DEFINITION
from shared import db
from shared.runtime import INFRA_MIGRATIONS

# (device revoked, rally: None = none / True = open / False = closed, booth active,
#  ticket revoked, requires check-in, checked in, already stamped here)
CASES = list(
    itertools.product(
        (False, True),
        (None, True, False),
        (True, False),
        (False, True),
        (False, True),
        (False, True),
        (False, True),
    )
)


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await db.apply_migrations(
        database_url, "stamprally", INFRA_MIGRATIONS, table="infra_migrations"
    )
    await db.apply_migrations(database_url, "stamprally", DEFINITION.migrations)
    p = await db.create_pool(database_url, "stamprally", min_size=1, max_size=2)
    yield p
    await p.close()


async def call(
    pool: asyncpg.Pool,
    device: uuid.UUID,
    event: str,
    booth: str,
    ticket: uuid.UUID,
    reject: str | None,
    at: datetime,
) -> dict[str, object]:
    answer = await pool.fetchval(
        "SELECT stamprally_stamp($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ns.stamprally.', NULL)",
        device,
        uuid.uuid4().hex,
        event,
        booth,
        ticket,
        reject,
        at,
        uuid.uuid4(),
        uuid.uuid4(),
    )
    response: dict[str, object] = answer["response"]
    return response


@pytest.mark.parametrize(
    (
        "revoked_device",
        "rally_open",
        "booth_active",
        "revoked_ticket",
        "needs_checkin",
        "checked_in",
        "stamped_before",
    ),
    CASES,
)
async def test_sql_decision_equals_the_domain_rule(
    pool: asyncpg.Pool,
    revoked_device: bool,
    rally_open: bool | None,
    booth_active: bool,
    revoked_ticket: bool,
    needs_checkin: bool,
    checked_in: bool,
    stamped_before: bool,
) -> None:
    slug, ticket, device = f"rules-{uuid.uuid4().hex[:8]}", uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    if rally_open is not None:
        closes = now + timedelta(hours=1) if rally_open else now - timedelta(minutes=1)
        await pool.execute(
            "INSERT INTO rallies (event, title, min_stamps, required_booths, requires_checkin,"
            " closes_at) VALUES ($1, '{}', 2, '{a}', $2, $3)",
            slug,
            needs_checkin,
            closes,
        )
        await pool.executemany(
            "INSERT INTO booths (event, code, name, kind, position, active)"
            " VALUES ($1, $2, '{}', 'country', 0, $3)",
            [(slug, "a", True), (slug, "b", booth_active), (slug, "c", True)],
        )
    await pool.execute(
        "INSERT INTO tickets (id, event, registration_id, display_name, language, revision,"
        " revoked) VALUES ($1, $2, $3, 'A', 'ja', 1, $4)",
        ticket,
        slug,
        uuid.uuid4(),
        revoked_ticket,
    )
    await pool.execute(
        "INSERT INTO devices (id, event, role, place, revoked) VALUES ($1, $2, 'booth', 'b', $3)",
        device,
        slug,
        revoked_device,
    )
    if checked_in:
        await pool.execute(
            "INSERT INTO checked_in (ticket_id, event, at) VALUES ($1, $2, $3)", ticket, slug, now
        )
    stamped = ["a"]
    await pool.execute(
        "INSERT INTO cards (ticket_id, event, stamps) VALUES ($1, $2, $3)",
        ticket,
        slug,
        2 if stamped_before else 1,
    )
    await pool.execute(
        "INSERT INTO stamps (ticket_id, booth, event, at) VALUES ($1, 'a', $2, $3)",
        ticket,
        slug,
        now,
    )
    if stamped_before:
        stamped.append("b")
        await pool.execute(
            "INSERT INTO stamps (ticket_id, booth, event, at) VALUES ($1, 'b', $2, $3)",
            ticket,
            slug,
            now,
        )

    got = await call(pool, device, slug, "b", ticket, None, now)
    expected, reason = domain.decide_stamp(
        domain.StampFacts(
            signature_ok=True,
            same_event=True,
            device_revoked=revoked_device,
            rally_exists=rally_open is not None,
            rally_open=bool(rally_open),
            booth_active=booth_active,
            ticket_revoked=revoked_ticket,
            requires_checkin=needs_checkin,
            checked_in=checked_in,
            already_stamped=stamped_before,
        )
    )
    assert (got["result"], got.get("reason")) == (expected, reason)
    if expected == "stamped":
        after = [*stamped, "b"]
        assert got["completed"] is domain.is_complete(2, ["a"], after)
        assert got["stamps"] == len(after) and got["required"] == domain.needed(2, ["a"])
        assert got["missing_booths"] == domain.missing_booths(["a"], after)


@pytest.mark.parametrize("reason", ["invalid_signature", "wrong_event"])
async def test_a_reason_decided_before_the_call_is_the_answer(
    pool: asyncpg.Pool, reason: str
) -> None:
    got = await call(pool, uuid.uuid4(), "x", "b", uuid.uuid4(), reason, datetime.now(UTC))
    assert (got["result"], got["reason"]) == ("rejected", reason)
