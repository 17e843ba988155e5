"""Personal data (APPI): a registrant erases their own data, an organizer exports or
erases one person's on request, and the scheduled job erases a whole event's when its
retention ends — keeping the counts, leaving no name, email or phone behind in
registration's tables, its idempotency records or its outbox ledger, and telling the
other services (checkin, stamprally and notify erase their copies)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.registration import privacy
from services.registration.domain import Category, Choice, FormField
from shared.testing import wait_until
from tests.integration.regfixtures import ADMIN, make_event, person, rt, running_registration

API = "/api/registration"


@pytest.fixture(scope="module")
async def client(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


@pytest.fixture(scope="module")
async def admin(client: TestClient) -> dict[str, str]:
    r = await client.post(f"{API}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


def categories(capacity: int = 1) -> Category:
    return Category(
        code="visitor",
        title={"ja": "来場者"},
        capacity=capacity,
        max_party_size=3,
        fields=(
            FormField(key="message", type="text", label={"en": "Message"}),
            FormField(
                key="interpreter",
                type="choice",
                label={"en": "Interpreter"},
                choices=(Choice("none", {"en": "No"}), Choice("vi", {"en": "Vietnamese"})),
            ),
        ),
    )


async def register(client: TestClient, slug: str, i: int, **extra: Any) -> dict[str, Any]:
    body = person(
        i,
        email=f"erase{i}-{uuid.uuid4().hex[:6]}@example.org",
        phone=f"+8190{12340000 + i}",
        answers={"message": f"I am Tran Van {i}", "interpreter": "vi"},
        **extra,
    )
    r = await client.post(
        f"{API}/events/{slug}/registrations",
        json=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status == 201, await r.text()
    answer: dict[str, Any] = await r.json()
    answer["email"], answer["phone"] = body["email"], body["phone"]
    return answer


async def personal_traces(db: asyncpg.Pool, reg: dict[str, Any]) -> list[str]:
    """Where this person's name, email or phone can still be found in registration."""
    found = []
    row = await db.fetchrow(
        "SELECT * FROM registration.registrations WHERE id = $1", uuid.UUID(reg["id"])
    )
    for needle in (reg["email"], "Tran Van", reg["phone"]):
        if needle in json.dumps(dict(row), default=str):
            found.append(f"registrations: {needle}")
        if await db.fetchval(
            "SELECT count(*) FROM registration.idempotency_keys WHERE response::text LIKE $1",
            f"%{reg['email']}%",
        ):
            found.append("idempotency_keys")
        if await db.fetchval(
            "SELECT count(*) FROM registration.outbox"
            " WHERE sent_at IS NOT NULL AND convert_from(body, 'UTF8') LIKE $1",
            f"%{reg['email']}%",
        ):
            found.append("outbox ledger (sent)")
    return found


async def sent(db: asyncpg.Pool, slug: str) -> None:
    async def all_sent() -> bool:
        n = await db.fetchval(
            "SELECT count(*) FROM registration.outbox WHERE event_slug = $1 AND sent_at IS NULL",
            slug,
        )
        return bool(n == 0)

    await wait_until(all_sent, timeout=15, message="the relay sent the event's facts")


async def test_a_registrant_erases_their_own_data_and_the_next_in_line_gets_the_place(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client, categories(capacity=1))
    first = await register(client, slug, 1)
    second = await register(client, slug, 2)
    assert (first["status"], second["status"]) == ("confirmed", "waitlisted")
    await sent(db, slug)
    assert await personal_traces(db, first)  # the control: before erasure it is all there

    secret = {"X-Registration-Secret": first["secret"]}
    r = await client.post(f"{API}/registrations/{first['id']}/erase", headers=secret)
    assert r.status == 200, await r.text()
    erased_at = (await r.json())["erased_at"]

    assert await personal_traces(db, first) == []
    row = await db.fetchrow(
        "SELECT * FROM registration.registrations WHERE id = $1", uuid.UUID(first["id"])
    )
    # What the counts need stays: the choice answer, the category, party size, language.
    assert json.loads(row["answers"]) == {"interpreter": "vi"}
    assert (row["status"], row["party_size"], row["language"]) == ("cancelled", 1, "vi")
    # The link is dead; a retry with the old secret finds nothing, as anyone would.
    r = await client.get(f"{API}/registrations/{first['id']}", headers=secret)
    assert r.status == 404
    r = await client.post(f"{API}/registrations/{first['id']}/erase", headers=secret)
    assert r.status == 404
    # The place went to the next in line, as with any cancellation.
    r = await client.get(
        f"{API}/registrations/{second['id']}",
        headers={"X-Registration-Secret": second["secret"]},
    )
    assert (await r.json())["status"] == "confirmed"
    # The other services are told, with the tickets to forget.
    fact = await db.fetchrow(
        "SELECT convert_from(body, 'UTF8')::jsonb->'payload' AS p FROM registration.outbox"
        " WHERE event_type = 'registration.erased' AND event_slug = $1",
        slug,
    )
    payload = json.loads(fact["p"])
    assert payload["registration_id"] == first["id"] and payload["by"] == "attendee"
    assert payload["ticket_ids"] == [first["ticket"]["id"]]
    # Erasing again (by an organizer) answers the first time and changes nothing.
    assert await privacy.erase(rt(client), uuid.UUID(first["id"]), by="organizer") == (
        datetime.fromisoformat(erased_at)
    )


async def test_an_organizer_exports_and_erases_one_person_on_request(
    client: TestClient, admin: dict[str, str], db: asyncpg.Pool
) -> None:
    slug = await make_event(client, categories(capacity=10))
    reg = await register(client, slug, 3)
    r = await client.get(f"{API}/registrations/{reg['id']}/export", headers=admin)
    assert r.status == 200
    data = await r.json()
    assert data["email"] == reg["email"] and data["name"] == "Tran Van 3"
    assert data["answers"] == {"message": "I am Tran Van 3", "interpreter": "vi"}
    assert [t["id"] for t in data["tickets"]] == [reg["ticket"]["id"]]
    assert (await client.get(f"{API}/registrations/{reg['id']}/export")).status == 401

    r = await client.post(f"{API}/registrations/{reg['id']}/erase", headers=admin)
    assert r.status == 200
    after = await (
        await client.get(f"{API}/registrations/{reg['id']}/export", headers=admin)
    ).json()
    assert (after["name"], after["email"], after["phone"]) == ("", None, None)
    assert after["answers"] == {"interpreter": "vi"} and after["erased_at"]
    await sent(db, slug)
    assert await personal_traces(db, reg) == []


async def test_the_retention_job_erases_ended_events_once_and_keeps_the_counts(
    client: TestClient, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    old = await make_event(client, categories(capacity=10), retention_days=30)
    recent = await make_event(client, categories(capacity=10), retention_days=30)
    people = [await register(client, old, i) for i in range(10, 14)]
    kept = await register(client, recent, 20)
    await sent(db, old)
    before = await db.fetchrow(
        "SELECT confirmed_people, waitlist_people FROM registration.categories"
        " WHERE event_slug = $1",
        old,
    )
    # The old event ended 31 days ago; the recent one 29 days ago.
    for slug, days in ((old, 31), (recent, 29)):
        await db.execute(
            "UPDATE registration.events SET starts_at = now() - make_interval(days => $2)"
            " - interval '6 hours', ends_at = now() - make_interval(days => $2) WHERE slug = $1",
            slug,
            days,
        )
    caplog.set_level(logging.INFO, logger="services.registration.privacy")
    done = await privacy.erase_expired(rt(client))
    assert done == {"events": 1, "registrations": 4}
    for p in people:
        assert await personal_traces(db, p) == []
    assert await personal_traces(db, kept)  # the recent event keeps its data
    after = await db.fetchrow(
        "SELECT confirmed_people, waitlist_people FROM registration.categories"
        " WHERE event_slug = $1",
        old,
    )
    assert dict(after) == dict(before)
    statuses = await db.fetch(
        "SELECT status, count(*) FROM registration.registrations WHERE event_slug = $1 GROUP BY 1",
        old,
    )
    assert {r["status"]: r["count"] for r in statuses} == {"confirmed": 4}
    # Once: a second run finds nothing to do.
    assert await privacy.erase_expired(rt(client)) == {"events": 0, "registrations": 0}
    assert (
        await db.fetchval(
            "SELECT count(*) FROM registration.outbox WHERE event_type = 'event.erased'"
            " AND event_slug = $1",
            old,
        )
        == 1
    )
    # Logged, without the people.
    logged = " ".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "retention ended" in logged and old in logged
    assert not any(p["email"] in logged or "Tran Van" in logged for p in people)


async def test_past_retention_is_decided_by_each_events_own_days(client: TestClient) -> None:
    """``retention_days`` counts from the event's end; a longer one keeps data longer."""
    slug = await make_event(client, categories(), retention_days=365)
    await rt(client).pool.execute(
        "UPDATE events SET starts_at = now() - interval '100 days 6 hours',"
        " ends_at = now() - interval '100 days' WHERE slug = $1",
        slug,
    )
    now = datetime.now(UTC)

    async def erased() -> bool:
        at = await rt(client).pool.fetchval(
            "SELECT personal_data_erased_at FROM events WHERE slug = $1", slug
        )
        return at is not None

    await privacy.erase_expired(rt(client), now + timedelta(days=264))
    assert not await erased()
    await privacy.erase_expired(rt(client), now + timedelta(days=266))
    assert await erased()
