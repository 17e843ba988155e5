"""Helpers shared by the outbox and consumer tests: a schema with the bus tables, envelopes
to publish, and reading back what a stream holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import nats.js.api as api
from nats.aio.client import Client as NATS

from shared import db, outbox
from shared.contracts.registration import CategorySummary, EventPublished
from shared.events import Envelope, envelope_for, stream_name
from shared.runtime import INFRA_MIGRATIONS
from shared.testing import wait_until


async def bus_schema(database_url: str, schema: str) -> asyncpg.Pool:
    await db.apply_migrations(database_url, schema, INFRA_MIGRATIONS, table="infra_migrations")
    return await db.create_pool(database_url, schema, min_size=1, max_size=8)


@contextlib.asynccontextmanager
async def running_relay(
    database_url: str, pool: asyncpg.Pool, nc: NATS, schema: str, batch: int = 512
) -> AsyncIterator[outbox.Relay]:
    """An outbox relay for ``schema``, active, until the block ends."""
    relay = outbox.Relay(
        dsn=database_url,
        schema=schema,
        nc=nc,
        pool=pool,
        batch=batch,
        poll_seconds=0.2,
        lock_retry_seconds=0.2,
    )
    task = asyncio.create_task(relay.run())
    try:
        await wait_until(lambda: relay.active, message="relay active")
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def event(slug: str, revision: int = 1) -> Envelope:
    start = datetime(2027, 3, 14, 10, tzinfo=UTC)
    return envelope_for(
        EventPublished(
            slug=slug,
            kind="fair",
            title={"ja": "テスト", "en": "Test"},
            venue={"ja": "会場", "en": "Venue"},
            starts_at=start,
            ends_at=start + timedelta(hours=6),
            categories=[CategorySummary(code="visitor", title={"en": "Visitor"}, capacity=10)],
            revision=revision,
        ),
        event=slug,
    )


async def stream_messages(nc: NATS, namespace: str, publisher: str = "registration") -> list[Any]:
    """Every message the publisher's stream holds, in stream order."""
    js = nc.jetstream()
    name = stream_name(namespace, publisher)
    info = await js.stream_info(name)
    out = []
    if info.state.messages == 0:
        return out
    sub = await js.pull_subscribe(
        f"{namespace}.{publisher}.>",
        durable=None,
        stream=name,
        config=api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.ALL
        ),
    )
    try:
        while len(out) < info.state.messages:
            out += await sub.fetch(min(500, info.state.messages - len(out)), timeout=5)
    finally:
        await sub.unsubscribe()
    return out


def ids_of(messages: list[Any]) -> list[str]:
    return [str(Envelope.model_validate_json(m.data).id) for m in messages]
