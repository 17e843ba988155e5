"""Capacity under concurrency: never oversold, waiting list in order, promotions once.
Each test that can pass by luck has a control run with the protection switched off."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.registration import service
from services.registration.domain import Category
from tests.integration.regfixtures import make_event, person, rt, running_registration


@pytest.fixture(scope="module")
async def client(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


async def statuses(db: asyncpg.Pool, slug: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, status, party_size, waitlist_seq FROM registration.registrations"
        " WHERE event_slug = $1",
        slug,
    )


async def test_200_at_once_for_50_places_confirms_exactly_50_and_queues_150_in_order(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=50))
    batcher = service.batcher(rt(client))
    before = (batcher.batches, batcher.items)

    async def one(i: int) -> dict[str, Any]:
        r = await client.post(f"/api/registration/events/{slug}/registrations", json=person(i))
        assert r.status == 201, await r.text()
        return dict(await r.json())

    answers = await asyncio.gather(*(one(i) for i in range(200)))
    # Most went in batches that take the category's row once (shared/batching.py).
    batches, items = batcher.batches - before[0], batcher.items - before[1]
    assert batches > 0 and items > 100 and items > 2 * batches
    confirmed = [a for a in answers if a["status"] == "confirmed"]
    waiting = [a for a in answers if a["status"] == "waitlisted"]
    assert len(confirmed) == 50 and len(waiting) == 150
    assert all(a["ticket"]["qr_text"].startswith("T1.") for a in confirmed)
    assert sorted(a["waitlist_position"] for a in waiting) == list(range(1, 151))
    rows = await statuses(db, slug)
    assert sum(1 for r in rows if r["status"] == "confirmed") == 50
    counts = await db.fetchrow(
        "SELECT confirmed_people, waitlist_people FROM registration.categories WHERE event_slug=$1",
        slug,
    )
    assert (counts["confirmed_people"], counts["waitlist_people"]) == (50, 150)


async def test_control_read_then_write_oversells(client: TestClient, db: asyncpg.Pool) -> None:
    """The same load with capacity decided by reading then writing: it sells more places
    than there are, so the test above would catch that bug."""
    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=50))
    await asyncio.gather(
        *(
            service.register(
                rt(client),
                slug,
                service.RegistrationRequest(**person(i)),
                unsafe_no_capacity_lock=True,
            )
            for i in range(200)
        )
    )
    rows = await statuses(db, slug)
    assert sum(1 for r in rows if r["status"] == "confirmed") > 50


async def test_parties_of_1_to_4_never_exceed_capacity_and_waiters_were_too_big(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(
        client, Category(code="visitor", title={"ja": "来場者"}, capacity=50, max_party_size=4)
    )
    rng = random.Random(7)
    sizes = [rng.randint(1, 4) for _ in range(200)]
    await asyncio.gather(
        *(
            client.post(
                f"/api/registration/events/{slug}/registrations",
                json=person(i, party_size=sizes[i]),
            )
            for i in range(200)
        )
    )
    rows = {r["id"]: r for r in await statuses(db, slug)}
    assert sum(r["party_size"] for r in rows.values() if r["status"] == "confirmed") <= 50
    # Replay the decisions in the order they were made (each one's outbox row is written
    # under the category lock that made it): a party was queued only if it did not fit.
    facts = await db.fetch(
        "SELECT event_type, body FROM registration.outbox WHERE event_slug = $1"
        " AND event_type IN ('registration.confirmed', 'registration.waitlisted') ORDER BY seq",
        slug,
    )
    free = 50
    import json

    for f in facts:
        payload = json.loads(bytes(f["body"]))["payload"]
        size = payload["party_size"]
        if f["event_type"] == "registration.confirmed":
            assert size <= free
            free -= size
        else:
            assert size > free, f"a party of {size} was queued with {free} places left"
    assert len(facts) == 200


async def test_20_concurrent_cancellations_promote_in_order_once_each(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=20))
    answers = []
    for i in range(40):  # one by one, so the waiting list order is known
        r = await client.post(f"/api/registration/events/{slug}/registrations", json=person(i))
        answers.append(await r.json())
    confirmed = [a for a in answers if a["status"] == "confirmed"]
    waiting = sorted(
        (a for a in answers if a["status"] == "waitlisted"), key=lambda a: a["waitlist_position"]
    )
    assert len(confirmed) == 20 and len(waiting) == 20
    leaving = confirmed[:10] + waiting[10:]  # 10 places freed; the last 10 waiting leave too

    async def cancel(a: dict[str, Any]) -> int:
        r = await client.post(
            f"/api/registration/registrations/{a['id']}/cancel",
            headers={"X-Registration-Secret": a["secret"]},
        )
        return r.status

    assert set(await asyncio.gather(*(cancel(a) for a in leaving))) == {200}
    rows = {str(r["id"]): r for r in await statuses(db, slug)}
    promoted = {a["id"] for a in waiting[:10]}
    assert {i for i, r in rows.items() if r["status"] == "confirmed"} == (
        {a["id"] for a in confirmed[10:]} | promoted
    )
    counts = await db.fetchrow(
        "SELECT confirmed_people, waitlist_people FROM registration.categories WHERE event_slug=$1",
        slug,
    )
    assert (counts["confirmed_people"], counts["waitlist_people"]) == (20, 0)
    tickets = await db.fetch(
        "SELECT registration_id::text AS rid, count(*) AS n FROM registration.tickets"
        " WHERE event_slug = $1 AND status = 'active' GROUP BY 1",
        slug,
    )
    assert all(t["n"] == 1 for t in tickets) and len(tickets) == 20
    promoted_events = await db.fetch(
        "SELECT body FROM registration.outbox WHERE event_slug=$1"
        " AND event_type='registration.promoted'",
        slug,
    )
    assert len(promoted_events) == 10


async def test_a_duplicate_in_a_batch_is_refused_alone_and_the_others_are_registered(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """Registrations arriving together go in one call; one that PostgreSQL refuses (the
    same e-mail twice) makes that call commit nothing, and each is then decided alone: the
    second of each pair gets 409, everyone else is registered once, in capacity."""
    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=20))
    batcher = service.batcher(rt(client))
    fallbacks = batcher.fallbacks
    bodies = [person(i) for i in range(30)] + [person(i) for i in range(5)]  # 5 twice

    async def one(body: dict[str, Any]) -> int:
        r = await client.post(f"/api/registration/events/{slug}/registrations", json=body)
        return r.status

    codes = await asyncio.gather(*(one(b) for b in bodies))
    assert sorted(codes) == [201] * 30 + [409] * 5
    assert batcher.fallbacks > fallbacks
    rows = await statuses(db, slug)
    assert len(rows) == 30
    assert sum(r["party_size"] for r in rows if r["status"] == "confirmed") == 20
    assert sorted(r["waitlist_seq"] is not None for r in rows) == [False] * 20 + [True] * 10
    facts = await db.fetchval(
        "SELECT count(*) FROM registration.outbox WHERE event_slug = $1"
        " AND event_type IN ('registration.confirmed', 'registration.waitlisted')",
        slug,
    )
    assert facts == 30


async def test_a_burst_reads_its_event_once_when_the_cache_runs_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of registrations in flight when the event's two cached seconds are up:
    one read of the event goes to the database, and every request waits for that one."""
    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=5))
    runtime = rt(client)
    runtime.state.get(service.EVENT_CACHE, {}).pop(slug, None)
    reads = 0
    real = service.repository.load_event

    async def counted(pool: Any, wanted: str) -> Any:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)  # a database under load
        return await real(pool, wanted)

    monkeypatch.setattr(service.repository, "load_event", counted)
    events = await asyncio.gather(*(service.cached_event(runtime, slug) for _ in range(200)))
    assert reads == 1
    assert all(e is not None and e.slug == slug for e in events)
