"""Every status change publishes exactly one event, counted on the consumer side (the
stream), and nothing personal reaches the ticket events that gates see."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from nats.aio.client import Client as NATS

from services.registration.domain import Category
from shared.testing import wait_until
from tests.integration.busfixtures import stream_messages
from tests.integration.regfixtures import ADMIN, make_event, person, running_registration

API = "/api/registration"


@pytest.fixture(scope="module")
async def client(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


async def test_each_status_change_is_one_event_on_the_stream(
    client: TestClient, nc: NATS, namespace: str
) -> None:
    slug = await make_event(
        client,
        Category(code="visitor", title={"ja": "来場者"}, capacity=1),
        Category(code="contestant", title={"ja": "出場者"}, capacity=5, review=True),
    )
    login = await client.post(f"{API}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
    admin = {"Authorization": f"Bearer {(await login.json())['token']}"}

    async def reg(i: int, **kw: Any) -> dict[str, Any]:
        r = await client.post(f"{API}/events/{slug}/registrations", json=person(i, **kw))
        assert r.status == 201
        return dict(await r.json())

    a, b = await reg(1), await reg(2)  # confirmed, waitlisted
    c, d = await reg(3, category="contestant"), await reg(4, category="contestant")
    await client.post(f"{API}/registrations/{c['id']}/approve", headers=admin)
    await client.post(f"{API}/registrations/{d['id']}/reject", headers=admin)
    await client.post(
        f"{API}/registrations/{a['id']}/cancel", headers={"X-Registration-Secret": a["secret"]}
    )  # promotes b
    # Retries change nothing and publish nothing.
    await client.post(
        f"{API}/registrations/{a['id']}/cancel", headers={"X-Registration-Secret": a["secret"]}
    )
    await client.post(f"{API}/registrations/{c['id']}/approve", headers=admin)

    expected = {
        (a["id"], "registration.confirmed"): 1,
        (a["id"], "ticket.issued"): 1,
        (a["id"], "registration.cancelled"): 1,
        (a["id"], "ticket.revoked"): 1,
        (b["id"], "registration.waitlisted"): 1,
        (b["id"], "registration.promoted"): 1,
        (b["id"], "ticket.issued"): 1,
        (c["id"], "registration.pending_review"): 1,
        (c["id"], "registration.approved"): 1,
        (c["id"], "ticket.issued"): 1,
        (d["id"], "registration.pending_review"): 1,
        (d["id"], "registration.rejected"): 1,
    }

    async def seen() -> Counter[tuple[str, str]]:
        counted: Counter[tuple[str, str]] = Counter()
        for m in await stream_messages(nc, namespace):
            env = json.loads(m.data)
            if env["event"] == slug and env["type"] != "event.published":
                counted[(env["payload"]["registration_id"], env["type"])] += 1
        return counted

    await wait_until(lambda: _equal(seen(), expected), timeout=10, message="the expected events")
    for m in await stream_messages(nc, namespace):
        env = json.loads(m.data)
        if env["type"] in ("ticket.issued", "ticket.revoked"):
            text = json.dumps(env["payload"])
            assert "@example.org" not in text and "contact" not in env["payload"]


async def _equal(got: Any, expected: dict[tuple[str, str], int]) -> bool:
    return dict(await got) == expected
