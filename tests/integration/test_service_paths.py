"""The four services built by their ``create_app``: the one end-to-end message path of
the foundation (registration's ``event.published`` into every other service's read
model), readiness, and the OpenAPI documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.notify.app import create_app as notify_app
from services.notify.settings import NotifySettings
from services.registration import service as registration
from services.registration.app import create_app as registration_app
from services.registration.domain import Category, EventDraft
from services.registration.settings import RegistrationSettings
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings
from shared import db
from shared.errors import ValidationFailed
from shared.runtime import RUNTIME
from shared.testing import wait_until


@pytest.fixture(scope="module")
async def clients(make_settings: Any) -> AsyncIterator[dict[str, TestClient]]:
    built = {
        "registration": registration_app(make_settings(RegistrationSettings)),
        "checkin": checkin_app(make_settings(CheckinSettings)),
        "stamprally": stamprally_app(make_settings(StamprallySettings)),
        "notify": notify_app(make_settings(NotifySettings)),
    }
    out = {}
    for name, app in built.items():
        client = TestClient(TestServer(app))
        await client.start_server()
        out[name] = client
    yield out
    for client in out.values():
        await client.close()


@pytest.fixture(scope="module")
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(database_url)
    yield c
    await c.close()


def fair(slug: str) -> EventDraft:
    start = datetime(2027, 3, 14, 1, tzinfo=UTC)
    return EventDraft(
        slug=slug,
        kind="fair",
        title={"ja": "多文化ふれあいフェスタ", "en": "Multicultural Fair"},
        venue={"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
        starts_at=start,
        ends_at=start + timedelta(hours=6),
        categories=(
            Category(code="visitor", title={"en": "Visitor"}, capacity=3000, reentry=True),
        ),
    )


async def test_every_service_is_ready_and_serves_its_openapi_document(
    clients: dict[str, TestClient],
) -> None:
    for name, client in clients.items():
        r = await client.get("/readyz")
        assert r.status == 200, await r.text()
        body = await r.json()
        assert body["service"] == name and all(body["checks"].values())
        doc = await (await client.get(f"/api/{name}/openapi.json")).json()
        assert doc["openapi"].startswith("3.1") and f"/api/{name}/readyz" in doc["paths"]


async def test_a_published_event_reaches_every_read_model(
    clients: dict[str, TestClient], conn: asyncpg.Connection
) -> None:
    rt = clients["registration"].server.app[RUNTIME]
    await registration.save_event(rt, fair("fair-2027"))
    for schema in ("checkin", "stamprally", "notify"):
        await wait_until(
            lambda s=schema: conn.fetchval(
                f"SELECT title->>'en' FROM {s}.events WHERE slug=$1", "fair-2027"
            ),
            message=f"{schema} read model",
        )
    assert await conn.fetchval(
        "SELECT reentry FROM checkin.categories WHERE event_slug='fair-2027' AND code='visitor'"
    )
    # A change travels too, and only the newest revision is kept.
    changed = replace(fair("fair-2027"), title={"ja": "多文化フェスタ", "en": "Fair (new date)"})
    assert await registration.save_event(rt, changed) == 2
    await wait_until(
        lambda: conn.fetchval("SELECT revision = 2 FROM notify.events WHERE slug='fair-2027'"),
        message="revision 2 in notify",
    )
    assert await conn.fetchval("SELECT title->>'en' FROM notify.events WHERE slug='fair-2027'") == (
        "Fair (new date)"
    )


async def test_an_invalid_event_stores_and_publishes_nothing(
    clients: dict[str, TestClient], conn: asyncpg.Connection
) -> None:
    rt = clients["registration"].server.app[RUNTIME]
    before = await conn.fetchval("SELECT count(*) FROM registration.outbox")
    bad = replace(fair("bad-event"), ends_at=fair("x").starts_at - timedelta(hours=1))
    with pytest.raises(ValidationFailed) as exc:
        await registration.save_event(rt, bad)
    assert [e.field for e in exc.value.errors] == ["ends_at"]
    assert (
        await conn.fetchval("SELECT count(*) FROM registration.events WHERE slug='bad-event'") == 0
    )
    assert await conn.fetchval("SELECT count(*) FROM registration.outbox") == before


async def test_an_older_revision_arriving_late_does_not_overwrite_a_newer_one(
    clients: dict[str, TestClient], conn: asyncpg.Connection, database_url: str
) -> None:
    from services.checkin import service as checkin
    from shared.contracts.registration import EventPublished

    start = datetime(2027, 5, 1, tzinfo=UTC)
    newer = EventPublished(
        slug="late",
        kind="seminar",
        title={"en": "v3"},
        venue={"en": "x"},
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        revision=3,
    )
    older = newer.model_copy(update={"title": {"en": "v2"}, "revision": 2})
    pool = await db.create_pool(database_url, "checkin", min_size=1, max_size=1)
    try:
        async with db.transaction(pool) as c:
            assert await checkin.apply_event_published(c, newer)
            assert not await checkin.apply_event_published(c, older)
    finally:
        await pool.close()
    assert await conn.fetchval("SELECT title->>'en' FROM checkin.events WHERE slug='late'") == "v3"


async def test_unknown_api_path_is_a_localized_problem(clients: dict[str, TestClient]) -> None:
    client = clients["checkin"]
    r = await client.get("/api/checkin/nothing-here", headers={"Accept-Language": "vi,en;q=0.5"})
    assert r.status == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = await r.json()
    assert body["status"] == 404 and body["code"] == "not_found"
    assert body["title"] != "We could not find this page or item."  # Vietnamese, not English
    assert r.headers["Correlation-Id"] == body["correlation_id"]


async def test_retention_purges_old_ledger_rows_and_claims_but_never_unsent_ones(
    clients: dict[str, TestClient], database_url: str
) -> None:
    from shared import inbox, outbox
    from shared.runtime import maintenance_once
    from tests.integration.busfixtures import bus_schema

    pool = await bus_schema(database_url, "retention")
    try:
        old = "now() - interval '400 days'"
        for sent in ("now()", "NULL"):
            await pool.execute(
                "INSERT INTO outbox (id, subject, event_type, body, created_at, sent_at)"
                f" VALUES (gen_random_uuid(), 's', 't', '\\x00', {old}, {sent})"
            )
        await pool.execute(
            "INSERT INTO inbox (consumer, event_id, claimed_by, processed_at)"
            f" VALUES ('c', gen_random_uuid(), 'me', {old}), ('c', gen_random_uuid(), 'me', now())"
        )
        cutoff = datetime.now(UTC) - timedelta(days=90)
        assert await outbox.purge_sent(pool, cutoff) == 1
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1
        assert await inbox.purge(pool, cutoff) == 1
        assert await pool.fetchval("SELECT count(*) FROM inbox") == 1
        assert await outbox.purge_sent(pool, cutoff) == 0  # idempotent
    finally:
        await pool.close()
    # The service's own maintenance runs the same purge on its schema.
    rt = clients["registration"].server.app[RUNTIME]
    assert await maintenance_once(rt) == {"outbox": 0, "inbox": 0}


async def test_stamprally_and_notify_show_organizers_the_events_they_learned(
    clients: dict[str, TestClient], conn: asyncpg.Connection, make_settings: Any, tmp_path: Any
) -> None:
    from services.registration import organizers

    rt = clients["registration"].server.app[RUNTIME]
    await organizers.create(rt, "ops@city.test", "long enough password", [], role="admin")
    token, _, _ = await organizers.login(rt, "ops@city.test", "long enough password", "api")
    await registration.save_event(rt, fair("learned-2027"))
    for name in ("stamprally", "notify"):
        client = clients[name]
        assert (await client.get(f"/api/{name}/events")).status == 401

        async def listed(c: TestClient = client, n: str = name) -> bool:
            r = await c.get(f"/api/{n}/events", headers={"Authorization": f"Bearer {token}"})
            return r.status == 200 and any(
                e["slug"] == "learned-2027" for e in (await r.json())["items"]
            )

        await wait_until(listed, timeout=15, message=f"{name} lists the event")
