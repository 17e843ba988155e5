"""Transactional outbox: a state change and the events it causes commit together.

``enqueue`` inserts the envelope in the caller's transaction. The :class:`Relay` (one
active per service: a session-level advisory lock on a dedicated connection) publishes
unsent rows to JetStream with ``Nats-Msg-Id`` = event id, so JetStream drops a duplicate
publish within its window, then marks them sent. Sent rows stay as the ledger that
``replay`` publishes again.

Order: the relay publishes what has become visible, oldest ``seq`` first. A row becomes
visible when its transaction commits, so a transaction still in flight never holds back
the ones that committed before it, and events leave in commit order. (Two transactions
that both commit between two looks of the relay leave in ``seq`` order: they overlapped
in time; events of one aggregate still keep their order, because a change to an aggregate
takes its row lock before the outbox row is written.) Publishes are pipelined
(``publish_async``) and only the acknowledged prefix is marked sent; after a failure the
rest is retried from the first unacknowledged row.

Atomic batches: 16 or more rows fetched together go to JetStream as one atomic batch
(ADR-50, nats-server 2.12+, a stream with ``allow_atomic``), acknowledged once, stored
together or not at all. With ``sync_interval: always`` a single message costs NATS about
0.12 ms of CPU (its sync); a batch about 1.5 ms, whatever its size, plus 0.014 ms per
message in it: fewer rows than that go one by one (bench/README.md). A batch holding a
message id JetStream already has (a relay that died between the publish and marking the
rows sent) is refused whole; so after any failed batch the relay publishes message by
message for a while, and the duplicate window drops the copies as before. A stream that
does not allow atomic batches (an older server) gets the messages one by one.

Waking: after a commit, ``wake()`` signals the relay in this process at no cost; a relay
in another replica learns of it through LISTEN/NOTIFY (a NOTIFY sent after the commit,
coalesced, so writers' commits are not serialized by PostgreSQL's notify lock), and a poll
is the fallback for anything missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS

from shared.db import DB_LOST, advisory_key
from shared.events import Envelope, stream_name

logger = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
BATCH_ID = "Nats-Batch-Id"
BATCH_SEQUENCE = "Nats-Batch-Sequence"
BATCH_COMMIT = "Nats-Batch-Commit"
# After a failed atomic batch, messages go one by one for this long (see above).
PLAIN_AFTER_FAILURE_SECONDS = 2.0
# Fewer rows than this go one by one: an atomic batch costs NATS about as much CPU as a
# dozen single messages, then a tenth of one per message in it (nats-server 2.15,
# sync_interval: always; bench/README.md).
ATOMIC_MIN = 16
# JetStream's default limit on the messages of one atomic batch.
ATOMIC_MAX = 1000
# How long a stream's answer to "do you allow atomic batches?" is kept.
ATOMIC_CHECK_SECONDS = 60.0
CORRELATION = "Correlation-Id"


def channel_for(schema: str) -> str:
    return f"tomoni_outbox_{schema}"


async def enqueue(conn: asyncpg.Connection, envelope: Envelope, namespace: str) -> None:
    """Add ``envelope`` to the outbox inside the caller's open transaction."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the state change's transaction")
    await conn.execute(
        "INSERT INTO outbox (id, subject, event_type, event_slug, body, correlation_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        envelope.id,
        envelope.subject(namespace),
        envelope.type,
        envelope.event,
        envelope.model_dump_json().encode(),
        envelope.correlation_id,
    )


async def enqueue_many(
    conn: asyncpg.Connection, envelopes: Sequence[Envelope], namespace: str
) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the state change's transaction")
    await conn.executemany(
        "INSERT INTO outbox (id, subject, event_type, event_slug, body, correlation_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (
                e.id,
                e.subject(namespace),
                e.type,
                e.event,
                e.model_dump_json().encode(),
                e.correlation_id,
            )
            for e in envelopes
        ],
    )


@dataclass(frozen=True)
class _Unit:
    """What the relay waits for: one message's acknowledgement, or an atomic batch's."""

    seqs: list[int]
    future: asyncio.Future[Any]
    batch: bool


def _headers(r: asyncpg.Record) -> dict[str, str]:
    headers = {MSG_ID: str(r["id"])}
    if r["correlation_id"]:
        headers[CORRELATION] = r["correlation_id"]
    return headers


def _stream_of(subject: str) -> str:
    """The stream a fact's subject belongs to: ``<namespace>.<publisher>.…`` →
    ``<NAMESPACE>_<PUBLISHER>`` (shared/events.py)."""
    namespace, publisher, _ = subject.split(".", 2)
    return stream_name(namespace, publisher)


class Relay:
    """Publishes a service's outbox. Run :meth:`run` as a background task."""

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        nc: NATS,
        pool: asyncpg.Pool,
        batch: int = 512,
        poll_seconds: float = 1.0,
        lock_retry_seconds: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._nc = nc
        self._js = nc.jetstream(timeout=publish_timeout)
        self._pool = pool
        self._batch = batch
        # Publishes in flight at most: a few batches, so the pipe never runs dry, within
        # what nats-py lets wait for acks (publish_async_max_pending, 4,000 by default).
        self._window = min(max(batch * 2, 256), 4000)
        self._ack_timeout = publish_timeout
        self._poll = poll_seconds
        self._lock_retry = lock_retry_seconds
        self._wake = asyncio.Event()
        self._notify_pending = False
        self.active = False
        self.published = 0
        self.atomic_batches = 0  # batches acknowledged whole (for tests and the curious)
        self._atomic: dict[str, tuple[bool, float]] = {}  # stream → (allowed, checked at)
        self._plain_until = 0.0
        self._lock_key = advisory_key(f"tomoni.relay.{schema}")

    # -- signalling ------------------------------------------------------------------
    def wake(self) -> None:
        """Call after a commit that enqueued rows."""
        if self.active:
            self._wake.set()
        elif not self._notify_pending:
            self._notify_pending = True
            asyncio.get_running_loop().create_task(self._notify_other_replica())

    async def _notify_other_replica(self) -> None:
        try:
            await self._pool.execute("SELECT pg_notify($1, '')", channel_for(self._schema))
        except DB_LOST:
            pass  # the poll finds the rows anyway
        finally:
            self._notify_pending = False

    # -- main loop -------------------------------------------------------------------
    async def run(self) -> None:
        """Wait for the relay lock, then publish until cancelled. Survives DB and NATS
        outages: on a lost connection it starts over (and may lose the lock to another
        replica, which is fine)."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn,
                    server_settings={
                        "search_path": self._schema,
                        "application_name": f"tomoni-{self._schema}-relay",
                    },
                )
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                    await asyncio.sleep(self._lock_retry)
                self.active = True
                logger.info("outbox relay active", extra={"schema": self._schema})
                await conn.add_listener(channel_for(self._schema), self._on_notify)
                await self._publish_loop(conn)
            except asyncio.CancelledError:
                raise
            except DB_LOST as exc:
                logger.warning(
                    "outbox relay lost its database connection; retrying: %s",
                    type(exc).__name__,
                    extra={"schema": self._schema},
                )
                await asyncio.sleep(self._lock_retry)
            finally:
                self.active = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))

    def _on_notify(self, *_args: Any) -> None:
        self._wake.set()

    async def _publish_loop(self, conn: asyncpg.Connection) -> None:
        """Keep up to ``window`` publishes in flight: fetch and send the next rows while
        the acks of the previous ones are still coming, and mark the acknowledged prefix
        sent as it grows. (Waiting for a whole batch's acks before fetching the next left
        the pipe empty a quarter of the time: see bench/README.md.)

        While rows are in flight the next ones are fetched past the highest seq sent (a
        cheap index range). A row that commits late with a lower seq is found by a full
        look, done whenever nothing is in flight and at least once a second."""
        inflight: deque[_Unit] = deque()
        cursor = 0  # the highest seq handed to NATS
        full_look_at = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                if conn.is_closed():
                    raise OSError("relay connection closed")
                self._wake.clear()
                acked, error = self._take_acked(inflight)
                if acked:
                    await conn.execute(
                        "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", acked
                    )
                    self.published += len(acked)
                if error is not None:
                    await self._fail(conn, inflight, error)
                    cursor = 0
                    continue
                fetched = 0
                room = self._window - sum(len(u.seqs) for u in inflight)
                if room >= self._batch or (not inflight and room > 0):
                    full = not inflight or loop.time() >= full_look_at
                    if full:
                        full_look_at = loop.time() + 1.0
                        rows = await conn.fetch(
                            "SELECT seq, id, subject, body, correlation_id FROM outbox"
                            " WHERE sent_at IS NULL AND NOT (seq = ANY($2::bigint[]))"
                            " ORDER BY seq LIMIT $1",
                            min(room, self._batch),
                            [seq for u in inflight for seq in u.seqs],
                        )
                    else:
                        rows = await conn.fetch(
                            "SELECT seq, id, subject, body, correlation_id FROM outbox"
                            " WHERE sent_at IS NULL AND seq > $2 ORDER BY seq LIMIT $1",
                            min(room, self._batch),
                            cursor,
                        )
                    fetched = len(rows)
                    try:
                        for unit in await self._send_rows(rows):
                            inflight.append(unit)
                            cursor = max(cursor, unit.seqs[-1])
                    except (nats.errors.Error, OSError) as exc:
                        await self._fail(conn, inflight, type(exc).__name__)
                        cursor = 0
                        continue
                if fetched or acked:
                    continue  # more may be waiting, or room was just made
                if inflight:
                    done, _ = await asyncio.wait({inflight[0].future}, timeout=self._ack_timeout)
                    if not done:
                        await self._fail(conn, inflight, "ack timeout")
                        cursor = 0
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
        finally:
            for unit in inflight:
                unit.future.cancel()

    def _take_acked(self, inflight: deque[_Unit]) -> tuple[list[int], str | None]:
        """Pop the acknowledged prefix; stop at the first failure (and name it)."""
        acked: list[int] = []
        while inflight and inflight[0].future.done():
            unit = inflight.popleft()
            fut = unit.future
            if fut.cancelled() or fut.exception() is not None:
                return acked, "cancelled" if fut.cancelled() else type(fut.exception()).__name__
            if unit.batch:
                ack = fut.result()
                if ack.batch_size != len(unit.seqs):  # not stored whole
                    return acked, "atomic batch not acknowledged whole"
                self.atomic_batches += 1
            acked.extend(unit.seqs)
        return acked, None

    async def _send_rows(self, rows: Sequence[asyncpg.Record]) -> list[_Unit]:
        """Hand ``rows`` to NATS in order: runs of two or more rows for one stream as
        atomic batches where the stream allows them, the others one by one."""
        units: list[_Unit] = []
        plain = asyncio.get_running_loop().time() < self._plain_until
        i = 0
        while i < len(rows):
            stream = _stream_of(rows[i]["subject"])
            j = i + 1
            while j < len(rows) and j - i < ATOMIC_MAX and _stream_of(rows[j]["subject"]) == stream:
                j += 1
            run = rows[i:j]
            if len(run) >= ATOMIC_MIN and not plain and await self._allows_atomic(stream):
                units.append(_Unit([r["seq"] for r in run], await self._send_batch(run), True))
            else:
                for r in run:
                    units.append(_Unit([r["seq"]], await self._send(r), False))
            i = j
        return units

    async def _send(self, r: asyncpg.Record) -> asyncio.Future[Any]:
        return await self._js.publish_async(r["subject"], bytes(r["body"]), headers=_headers(r))

    async def _send_batch(self, run: Sequence[asyncpg.Record]) -> asyncio.Future[Any]:
        """Publish ``run`` as one atomic batch; the future is the commit's acknowledgement
        (its ``batch_size`` the number of messages stored)."""
        batch_id = uuid.uuid4().hex
        last = len(run)
        for n, r in enumerate(run[:-1], start=1):
            headers = {**_headers(r), BATCH_ID: batch_id, BATCH_SEQUENCE: str(n)}
            await self._nc.publish(r["subject"], bytes(r["body"]), headers=headers)
        r = run[-1]
        headers = {**_headers(r), BATCH_ID: batch_id, BATCH_SEQUENCE: str(last), BATCH_COMMIT: "1"}
        return await self._js.publish_async(r["subject"], bytes(r["body"]), headers=headers)

    async def _allows_atomic(self, stream: str) -> bool:
        loop = asyncio.get_running_loop()
        held = self._atomic.get(stream)
        if held is not None and loop.time() - held[1] < ATOMIC_CHECK_SECONDS:
            return held[0]
        try:
            info = await self._js.stream_info(stream)
            allowed = bool(info.config.allow_atomic)
        except (nats.errors.Error, nats.js.errors.Error, OSError):
            allowed = False
        self._atomic[stream] = (allowed, loop.time())
        return allowed

    async def _fail(self, conn: asyncpg.Connection, inflight: deque[_Unit], why: str) -> None:
        """Forget what is in flight (it stays unsent in the table and is sent again; a copy
        JetStream already stored is dropped by its duplicate window), back off briefly.
        For a while the next tries go message by message: an atomic batch holding a
        message JetStream already stored would be refused whole again."""
        logger.warning(
            "outbox publish failed; will retry",
            extra={
                "schema": self._schema,
                "error": why,
                "in_flight": sum(len(u.seqs) for u in inflight),
            },
        )
        for unit in inflight:
            unit.future.cancel()
        inflight.clear()
        self._atomic.clear()  # asked again: the stream may have changed, or the server
        self._plain_until = asyncio.get_running_loop().time() + PLAIN_AFTER_FAILURE_SECONDS
        await asyncio.sleep(min(self._poll, 0.5))

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch and wait for its acks (used by tools; the running relay
        pipelines instead). Returns how many were marked sent, or -1 on a failure."""
        rows = await conn.fetch(
            "SELECT seq, id, subject, body, correlation_id FROM outbox"
            " WHERE sent_at IS NULL ORDER BY seq LIMIT $1",
            self._batch,
        )
        if not rows:
            return 0
        acked, failed = await publish_rows(self._js, rows)
        if acked:
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", acked
            )
            self.published += len(acked)
        if failed:
            logger.warning(
                "outbox publish failed; will retry",
                extra={"schema": self._schema, "error": failed, "unsent": len(rows) - len(acked)},
            )
            return -1
        return len(acked)


async def publish_rows(
    js: Any, rows: Sequence[asyncpg.Record], *, replay_tag: str | None = None
) -> tuple[list[int], str | None]:
    """Pipeline publishes in row order; return the seqs of the acknowledged prefix and the
    error that stopped it (if any)."""
    futures: list[asyncio.Future[Any]] = []
    error: str | None = None
    try:
        for r in rows:
            headers = _headers(r)
            if replay_tag is not None:
                headers[MSG_ID] = f"{r['id']}:{replay_tag}"
                headers["Tomoni-Replay"] = replay_tag
            futures.append(await js.publish_async(r["subject"], bytes(r["body"]), headers=headers))
    except (nats.errors.Error, OSError) as exc:
        error = type(exc).__name__
    acked: list[int] = []
    for r, fut in zip(rows, futures, strict=False):
        try:
            await asyncio.wait_for(fut, timeout=5.0)
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            error = error or type(exc).__name__
            break
        acked.append(r["seq"])
    # Futures after a failure are left to complete or time out on their own.
    for fut in futures[len(acked) :]:
        fut.cancel()
    return acked, error


async def replay(
    *, pool: asyncpg.Pool, nc: NATS, since: datetime, replay_tag: str, batch: int = 512
) -> int:
    """Publish again every sent outbox row created at or after ``since``, in order.

    The message id is the event id plus ``replay_tag``, so JetStream stores them again even
    within its duplicate window; consumers' inboxes (keyed by the event id inside the
    envelope) make the replay harmless to any consumer that has seen them.
    """
    js = nc.jetstream(timeout=5.0)
    total = 0
    last = 0
    while True:
        rows = await pool.fetch(
            "SELECT seq, id, subject, body, correlation_id FROM outbox"
            " WHERE created_at >= $1 AND sent_at IS NOT NULL AND seq > $2 ORDER BY seq LIMIT $3",
            since,
            last,
            batch,
        )
        if not rows:
            return total
        acked, error = await publish_rows(js, rows, replay_tag=replay_tag)
        total += len(acked)
        if error:
            raise RuntimeError(f"replay stopped after {total} events: {error}")
        last = rows[-1]["seq"]


async def purge_sent(pool: asyncpg.Pool, older_than: datetime) -> int:
    """Drop ledger rows past retention. Unsent rows are never purged."""
    result = await pool.execute(
        "DELETE FROM outbox WHERE sent_at IS NOT NULL AND created_at < $1", older_than
    )
    return int(result.split()[-1])
