"""The pull-consumer loop: effect and inbox claim commit together, then ack; so a
redelivery changes nothing, and bad messages are dead-lettered without stopping it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from shared import bus
from shared.bus import ConsumerSpec
from shared.consumer import Consumer
from shared.events import Envelope
from shared.testing import unique_namespace, wait_until
from tests.integration.busfixtures import bus_schema, event

SCHEMA = "cons"


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await bus_schema(database_url, SCHEMA)
    await p.execute(
        "CREATE TABLE IF NOT EXISTS effects (ns text, slug text, n int NOT NULL,"
        " PRIMARY KEY (ns, slug))"
    )
    yield p
    await p.close()


def counting_handler(ns: str, fail_for: set[str] | None = None) -> Any:
    """A deliberately non-idempotent effect: each application adds one."""

    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: Any) -> None:
        if fail_for and payload.slug in fail_for:
            raise ValueError("this handler cannot process that event")
        await conn.execute(
            "INSERT INTO effects VALUES ($1, $2, 1)"
            " ON CONFLICT (ns, slug) DO UPDATE SET n = effects.n + 1",
            ns,
            payload.slug,
        )

    return handle


def spec(**kw: Any) -> ConsumerSpec:
    values: dict[str, Any] = {
        "service": "checkin",
        "publisher": "registration",
        "event_type": "event.published",
        "ack_wait": 1.0,
        "max_deliver": 3,
    }
    values.update(kw)
    return ConsumerSpec(**values)


async def publish(nc: NATS, ns: str, *envelopes: Envelope) -> None:
    js = nc.jetstream()
    for e in envelopes:
        await js.publish(
            e.subject(ns), e.model_dump_json().encode(), headers={"Nats-Msg-Id": str(e.id)}
        )


@contextlib.asynccontextmanager
async def consuming(consumer: Consumer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, BaseException):
            await task


async def effect(pool: asyncpg.Pool, ns: str, slug: str) -> int | None:
    value: int | None = await pool.fetchval(
        "SELECT n FROM effects WHERE ns = $1 AND slug = $2", ns, slug
    )
    return value


class Died(Exception):
    """Stands in for the process dying between commit and ack."""


async def redelivered_effect(pool: asyncpg.Pool, nc: NATS, *, use_inbox: bool) -> int | None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    e = event("redelivered")
    await publish(nc, ns, e)

    async def die(_: Envelope) -> None:
        raise Died()

    first = Consumer(
        nc=nc,
        pool=pool,
        namespace=ns,
        spec=spec(),
        handler=counting_handler(ns),
        use_inbox=use_inbox,
        before_ack=die,
    )
    async with consuming(first) as task:
        await wait_until(lambda: task.done(), message="consumer died before its ack")
    assert await effect(pool, ns, "redelivered") == 1
    second = Consumer(
        nc=nc,
        pool=pool,
        namespace=ns,
        spec=spec(),
        handler=counting_handler(ns),
        use_inbox=use_inbox,
    )
    async with consuming(second):
        await wait_until(
            lambda: second.processed + second.duplicates >= 1,
            timeout=15,
            message="redelivery after ack_wait",
        )
    return await effect(pool, ns, "redelivered")


async def test_message_redelivered_after_a_crash_before_ack_changes_nothing(
    pool: asyncpg.Pool, nc: NATS
) -> None:
    assert await redelivered_effect(pool, nc, use_inbox=True) == 1


async def test_control_without_the_inbox_the_redelivery_applies_twice(
    pool: asyncpg.Pool, nc: NATS
) -> None:
    # Shows the previous test can fail: with the protection off, the effect doubles.
    assert await redelivered_effect(pool, nc, use_inbox=False) == 2


async def test_undecodable_message_is_dead_lettered_and_the_consumer_goes_on(
    pool: asyncpg.Pool, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    js = nc.jetstream()
    dl = await nc.subscribe(f"{ns}.deadletter.>")
    await js.publish(f"{ns}.registration.event.published", b"\xff not json")
    await js.publish(f"{ns}.registration.event.published", b'{"id": "not-a-uuid"}')
    good = event("after-poison")
    await publish(nc, ns, good)
    c = Consumer(nc=nc, pool=pool, namespace=ns, spec=spec(), handler=counting_handler(ns))
    async with consuming(c):
        await wait_until(lambda: effect(pool, ns, "after-poison"), message="good one processed")
    assert c.dead_lettered == 2
    first = await dl.next_msg(timeout=2)
    assert first.data == b"\xff not json"
    assert first.headers and first.headers["Tomoni-Reason"].startswith("undecodable")
    rows = await pool.fetch(
        "SELECT reason, deliveries FROM dead_letters WHERE consumer = $1 ORDER BY id", c.name
    )
    assert [r["deliveries"] for r in rows][-2:] == [1, 1]


async def test_handler_failing_every_time_is_dead_lettered_after_max_deliver(
    pool: asyncpg.Pool, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    bad, good = event("always-fails"), event("fine")
    await publish(nc, ns, bad, good)
    c = Consumer(
        nc=nc,
        pool=pool,
        namespace=ns,
        spec=spec(max_deliver=3),
        handler=counting_handler(ns, fail_for={"always-fails"}),
    )
    async with consuming(c):
        await wait_until(lambda: c.dead_lettered == 1, timeout=20, message="dead-lettered")
        await wait_until(lambda: effect(pool, ns, "fine"), message="the next one processed")
    row = await pool.fetchrow(
        "SELECT deliveries, reason FROM dead_letters WHERE consumer = $1 AND reason LIKE 'handler%'"
        " ORDER BY id DESC LIMIT 1",
        c.name,
    )
    assert row["deliveries"] == 3
    assert "ValueError" in row["reason"]
    assert await effect(pool, ns, "always-fails") is None


async def test_existing_durable_is_updated_to_the_declared_config(nc: NATS) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    info = await bus.ensure_consumer(nc, ns, spec(ack_wait=30.0, max_deliver=5))
    assert info.config.ack_wait == 30.0
    info = await bus.ensure_consumer(nc, ns, spec(ack_wait=7.0, max_deliver=9))
    assert info.config.ack_wait == 7.0 and info.config.max_deliver == 9
    again = await nc.jetstream().consumer_info(info.stream_name, info.name)
    assert again.config.ack_wait == 7.0


async def test_streams_are_file_backed_with_a_two_minute_duplicate_window(nc: NATS) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    info = await nc.jetstream().stream_info(f"{ns}_REGISTRATION".upper())
    assert info.config.storage == "file"
    assert info.config.duplicate_window >= 120


async def test_an_existing_stream_is_updated_to_the_declared_config(nc: NATS) -> None:
    """Only a difference leads to an update (replicas of every service start together),
    and a difference always does."""
    ns = unique_namespace()
    name = f"{ns}_CHECKIN".upper()
    await nc.jetstream().add_stream(
        name=name, subjects=[f"{ns}.checkin.>"], duplicate_window=30.0, max_age=3600.0
    )
    info = await bus.ensure_stream(nc, ns, "checkin")
    assert info.config.duplicate_window == bus.DUPLICATE_WINDOW_SECONDS
    assert info.config.max_age == bus.STREAM_MAX_AGE_SECONDS
    again = await bus.ensure_stream(nc, ns, "checkin")
    assert again.config.duplicate_window == bus.DUPLICATE_WINDOW_SECONDS
