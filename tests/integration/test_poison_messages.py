"""A poison message on every subject any service consumes: each consumer of it
dead-letters it (its ``dead_letters`` table and the dead-letter stream) and goes on
consuming. The four real services run in-process against the test's PostgreSQL and NATS;
the subjects are read from their own consumer bindings, so a new consumer is covered
without touching this test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nats.aio.client import Client as NATS

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.notify.app import create_app as notify_app
from services.notify.settings import NotifySettings
from services.registration.app import create_app as registration_app
from services.registration.settings import RegistrationSettings
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings
from shared.runtime import RUNTIME, Runtime
from shared.testing import wait_until

POISONS = (b"\xff poison: not JSON", b'{"id": "not-a-uuid", "type": 7}')


@pytest.fixture(scope="module")
async def runtimes(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[list[Runtime]]:
    apps: list[web.Application] = [
        registration_app(
            make_settings(
                RegistrationSettings, data_dir=tmp_path_factory.mktemp("reg"), rate_limit=False
            )
        ),
        checkin_app(make_settings(CheckinSettings, rate_limit=False)),
        stamprally_app(make_settings(StamprallySettings, rate_limit=False)),
        notify_app(make_settings(NotifySettings, smtp_url="smtp://127.0.0.1:9")),
    ]
    async with AsyncExitStack() as stack:
        for app in apps:
            client = TestClient(TestServer(app))
            await client.start_server()
            stack.push_async_callback(client.close)
        yield [app[RUNTIME] for app in apps]


def subjects(runtimes: list[Runtime], namespace: str) -> dict[str, list[tuple[Runtime, Any]]]:
    """Each consumed subject → the (runtime, consumer) pairs that consume it."""
    out: dict[str, list[tuple[Runtime, Any]]] = {}
    for rt in runtimes:
        for consumer in rt.consumers:
            subject = consumer.spec.filter_subject(namespace)
            out.setdefault(subject, []).append((rt, consumer))
    return out


async def test_every_consumer_dead_letters_poison_and_goes_on(
    runtimes: list[Runtime], nc: NATS, database_url: str, namespace: str
) -> None:
    by_subject = subjects(runtimes, namespace)
    consumers = [c for pairs in by_subject.values() for _, c in pairs]
    assert len(consumers) >= 20, "fewer consumers than the services declare"
    js = nc.jetstream()
    db = await asyncpg.connect(database_url)
    try:
        for poison in POISONS:  # the second round shows each consumer went on
            before = {id(c): c.dead_lettered for c in consumers}
            for subject in by_subject:
                await js.publish(subject, poison)

            async def all_dead_lettered(before: dict[int, int] = before) -> bool:
                return all(c.dead_lettered == before[id(c)] + 1 for c in consumers)

            await wait_until(all_dead_lettered, timeout=30, interval=0.2, message="every consumer")
        for subject, pairs in by_subject.items():
            for rt, consumer in pairs:
                rows = await db.fetch(
                    f"SELECT body FROM {rt.definition.schema}.dead_letters"
                    " WHERE consumer = $1 AND subject = $2 ORDER BY id",
                    consumer.name,
                    subject,
                )
                assert [bytes(r["body"]) for r in rows] == list(POISONS), consumer.name
        # Still consuming: no consumer task has ended.
        for rt in runtimes:
            ended = [t.get_name() for t in rt.tasks if t.done()]
            assert ended == [], ended
    finally:
        await db.close()


def test_control_the_subject_list_comes_from_the_services_own_bindings(
    runtimes: list[Runtime], namespace: str
) -> None:
    """If the list were empty or stale the test above would pass for nothing."""
    by_subject = subjects(runtimes, namespace)
    declared = {
        f"{namespace}.{b.publisher}.{b.event_type}"
        for rt in runtimes
        for b in rt.definition.consumers
    }
    assert set(by_subject) == declared and len(declared) >= 10
