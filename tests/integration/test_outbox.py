"""The transactional outbox: nothing published unless committed, everything committed
published exactly once, in commit order, across a NATS outage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS

from shared import bus, outbox
from shared.embedded import EmbeddedNats
from shared.events import stream_name
from shared.testing import Servers, unique_namespace, wait_until
from tests.integration.busfixtures import (
    bus_schema,
    event,
    ids_of,
    running_relay,
    stream_messages,
)

SCHEMA = "obx"


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await bus_schema(database_url, SCHEMA)
    yield p
    await p.close()


async def commit(pool: asyncpg.Pool, namespace: str, *envelopes: object) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue_many(conn, envelopes, namespace)  # type: ignore[arg-type]


async def unsent(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


async def test_rolled_back_transaction_publishes_nothing_and_committed_one_exactly_once(
    database_url: str, pool: asyncpg.Pool, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    async with running_relay(database_url, pool, nc, SCHEMA) as relay:
        rolled_back = event("rolled-back")
        with pytest.raises(RuntimeError):
            async with pool.acquire() as conn, conn.transaction():
                await outbox.enqueue(conn, rolled_back, ns)
                raise RuntimeError("the state change failed")
        committed = event("committed")
        await commit(pool, ns, committed)
        relay.wake()
        await wait_until(lambda: _zero(pool), message="all sent")
        # Published again on purpose (as a relay would after a lost ack): JetStream drops it.
        await pool.execute("UPDATE outbox SET sent_at = NULL WHERE id = $1", committed.id)
        relay.wake()
        await wait_until(lambda: _zero(pool), message="re-sent")
    ids = ids_of(await stream_messages(nc, ns))
    assert ids == [str(committed.id)]


async def _zero(pool: asyncpg.Pool) -> bool:
    return await unsent(pool) == 0


async def test_events_leave_in_commit_order_and_an_open_transaction_holds_nothing_back(
    database_url: str, pool: asyncpg.Pool, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    async with running_relay(database_url, pool, nc, SCHEMA) as relay:
        first = [event(f"seq-{i}") for i in range(20)]
        for e in first:
            await commit(pool, ns, e)
            relay.wake()
        # T1 writes its row first but commits last; T2 commits meanwhile.
        t1, t2 = event("t1-commits-last"), event("t2-commits-first")
        conn1 = await pool.acquire()
        tx1 = conn1.transaction()
        await tx1.start()
        await outbox.enqueue(conn1, t1, ns)
        await commit(pool, ns, t2)
        relay.wake()
        await wait_until(
            lambda: pool.fetchval("SELECT sent_at IS NOT NULL FROM outbox WHERE id=$1", t2.id),
            message="t2 published while t1 is still open",
        )
        await tx1.commit()
        await pool.release(conn1)
        relay.wake()
        await wait_until(lambda: _zero(pool), message="all sent")
    ids = ids_of(await stream_messages(nc, ns))
    assert ids == [str(e.id) for e in [*first, t2, t1]]


async def test_two_relays_one_active_and_the_other_takes_over_when_it_dies(
    database_url: str, pool: asyncpg.Pool, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    a = outbox.Relay(
        dsn=database_url, schema=SCHEMA, nc=nc, pool=pool, poll_seconds=0.2, lock_retry_seconds=0.2
    )
    b = outbox.Relay(
        dsn=database_url, schema=SCHEMA, nc=nc, pool=pool, poll_seconds=0.2, lock_retry_seconds=0.2
    )
    ta = asyncio.create_task(a.run())
    await wait_until(lambda: a.active, message="a active")
    tb = asyncio.create_task(b.run())
    await asyncio.sleep(1.0)
    assert a.active and not b.active
    ta.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ta
    await wait_until(lambda: b.active, timeout=5, message="b takes over within 5 s")
    e = event("after-takeover")
    await commit(pool, ns, e)
    b.wake()
    await wait_until(lambda: _zero(pool), message="sent by b")
    tb.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tb
    assert ids_of(await stream_messages(nc, ns)) == [str(e.id)]


@pytest.mark.parametrize("per_commit", [1, 20], ids=["one-per-commit", "twenty-per-commit"])
async def test_thousand_commits_with_nats_killed_and_restarted_all_arrive_none_twice(
    database_url: str, tmp_path: Path, per_commit: int
) -> None:
    """With twenty facts per commit, every fetch holds whole commits of 20: the relay sends
    atomic batches until the kill (and message by message for 2 s after a failure)."""
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    ns = unique_namespace()
    pool = await bus_schema(database_url, "obx_outage")
    nc = await bus.connect([server.url], "outage-test")
    try:
        await bus.ensure_all_streams(nc, ns)
        async with running_relay(database_url, pool, nc, schema="obx_outage") as relay:
            envelopes = [event(f"n-{i}") for i in range(1000)]

            async def writer(chunk: list[object]) -> None:
                for i in range(0, len(chunk), per_commit):
                    await commit(pool, ns, *chunk[i : i + per_commit])
                    relay.wake()

            writers = [asyncio.create_task(writer(envelopes[i::8])) for i in range(8)]
            await wait_until(lambda: relay.published >= 150, message="some published")
            server.kill()  # SIGKILL mid-stream
            await wait_until(
                lambda: pool.fetchval("SELECT count(*) >= 600 FROM outbox"),
                timeout=60,
                message="commits continue while NATS is down",
            )
            server.start()
            await asyncio.gather(*writers)
            await wait_until(lambda: _zero(pool), timeout=60, message="all sent after restart")
        check = await nats.connect(server.url)
        try:
            ids = ids_of(await stream_messages(check, ns))
        finally:
            await check.close()
        assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicates"
        assert set(ids) == {str(e.id) for e in envelopes}
        assert relay.published == len(envelopes)
        if per_commit > 1:
            assert relay.atomic_batches > 0, "the kill met the relay sending atomic batches"
    finally:
        await nc.close()
        await pool.close()
        server.stop()


async def test_replay_publishes_the_ledger_again_under_new_message_ids(
    database_url: str, pool: asyncpg.Pool, nc: NATS
) -> None:
    from datetime import UTC, datetime, timedelta

    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    since = datetime.now(UTC) - timedelta(seconds=1)
    async with running_relay(database_url, pool, nc, SCHEMA) as relay:
        envelopes = [event(f"r-{i}") for i in range(5)]
        await commit(pool, ns, *envelopes)
        relay.wake()
        await wait_until(lambda: _zero(pool), message="sent")
    count = await outbox.replay(pool=pool, nc=nc, since=since, replay_tag="replay-1")
    assert count >= 5
    ids = ids_of(await stream_messages(nc, ns))
    expected = [str(e.id) for e in envelopes]
    assert ids == expected * 2  # the original run, then the replay, same envelopes


async def relay_sends_all_in_order(
    database_url: str, nc: NATS, ns: str, schema: str, count: int, batch: int = 512
) -> outbox.Relay:
    """Commit ``count`` facts together in a schema of their own, run a relay until all are
    sent, check the stream holds each once in commit order; return the relay."""
    pool = await bus_schema(database_url, schema)
    try:
        envelopes = [event(f"{schema}-{i}") for i in range(count)]
        await commit(pool, ns, *envelopes)  # waiting before the relay starts: one fetch
        async with running_relay(database_url, pool, nc, schema=schema, batch=batch) as relay:
            await wait_until(lambda: _zero(pool), message="all sent")
        assert relay.published == count
        assert ids_of(await stream_messages(nc, ns)) == [str(e.id) for e in envelopes]
        return relay
    finally:
        await pool.close()


async def test_rows_committed_together_leave_as_one_atomic_batch_in_order(
    database_url: str, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    info = await nc.jetstream().stream_info(stream_name(ns, "registration"))
    assert info.config.allow_atomic is True
    relay = await relay_sends_all_in_order(database_url, nc, ns, "obx_atomic", 50)
    assert relay.atomic_batches >= 1


async def test_a_fetch_larger_than_jetstream_takes_in_one_batch_is_split(
    database_url: str, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    count = outbox.ATOMIC_MAX + 200
    relay = await relay_sends_all_in_order(database_url, nc, ns, "obx_big", count, batch=count)
    assert relay.atomic_batches == 2


async def test_a_few_rows_go_one_by_one_where_a_batch_would_cost_more(
    database_url: str, nc: NATS
) -> None:
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    relay = await relay_sends_all_in_order(database_url, nc, ns, "obx_few", outbox.ATOMIC_MIN - 1)
    assert relay.atomic_batches == 0


@pytest.mark.parametrize("control", [False, True], ids=["relay", "control-batches-only"])
async def test_a_batch_holding_a_message_jetstream_already_stored_still_gets_through(
    database_url: str, nc: NATS, monkeypatch: pytest.MonkeyPatch, control: bool
) -> None:
    """A relay that died after JetStream stored a message but before marking its row sent
    leaves that row unsent. JetStream refuses an atomic batch holding its id whole, so the
    next relay must fall back to one message at a time, where the duplicate window drops
    the copy. The control never falls back: the rows stay stuck."""
    if control:
        monkeypatch.setattr(outbox, "PLAIN_AFTER_FAILURE_SECONDS", 0.0)
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    schema = f"obx_dup_{int(control)}"
    pool = await bus_schema(database_url, schema)
    try:
        envelopes = [event(f"d-{i}") for i in range(20)]
        await commit(pool, ns, *envelopes)
        stored = envelopes[5]  # what the dead relay got into JetStream
        await nc.jetstream().publish(
            stored.subject(ns),
            stored.model_dump_json().encode(),
            headers={outbox.MSG_ID: str(stored.id)},
        )
        async with running_relay(database_url, pool, nc, schema=schema):
            if control:
                await asyncio.sleep(3.0)
                assert await unsent(pool) == 20, "the refused batch is retried as it was"
                return
            await wait_until(lambda: _zero(pool), message="all sent")
        ids = ids_of(await stream_messages(nc, ns))
        assert len(ids) == 20, "each fact once: the copy was dropped"
        assert set(ids) == {str(e.id) for e in envelopes}
    finally:
        await pool.execute("DELETE FROM outbox")
        await pool.close()


async def test_a_stream_without_atomic_batches_gets_the_messages_one_by_one(
    database_url: str, nc: NATS
) -> None:
    """An older nats-server (before 2.12) has no atomic batches."""
    ns = unique_namespace()
    await bus.ensure_all_streams(nc, ns)
    name = stream_name(ns, "registration")
    config = (await nc.jetstream().stream_info(name)).config
    config.allow_atomic = False
    await nc.jetstream().update_stream(config)
    relay = await relay_sends_all_in_order(database_url, nc, ns, "obx_plain", 30)
    assert relay.atomic_batches == 0


def test_servers_fixture_is_real(servers: Servers) -> None:
    assert servers.admin_url.startswith("postgresql://")
