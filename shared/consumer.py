"""The pull-consumer loop every service uses to act on other services' events.

For each message: decode the envelope and its contract → in one transaction, claim the
event id in the inbox and apply the effect → commit → ack. So:

* a redelivery (the process died before the ack, or the ack was lost) finds the claim and
  changes nothing;
* an undecodable message is dead-lettered at once and terminated (``term``): retrying
  cannot fix it;
* a handler error is nak'ed with a growing delay; after ``max_deliver`` deliveries the
  message is dead-lettered (a row in ``dead_letters`` plus a copy on
  ``<ns>.deadletter.<service>.<publisher>.<type>``), logged, and terminated, and the
  consumer goes on with the next one;
* an infrastructure error (PostgreSQL unreachable or restarting) does not count against
  the message: the loop holds it (``in_progress`` keeps its ack deadline away), waits and
  tries again, so a database outage dead-letters nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import ValidationError

from shared import inbox
from shared.bus import ConsumerSpec, ensure_consumer, header
from shared.db import transaction
from shared.events import Contract, Envelope, contract_for
from shared.logging import correlation_id

logger = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Envelope, Any], Awaitable[None]]

INFRA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # see shared.db.DB_LOST
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
)

NAK_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def _raise_if_cancelling() -> None:
    """nats-py turns a cancellation that meets a fetch's timeout into a timeout (or, once
    the connection is closed, a connection error): hand the cancellation back."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Consumer:
    def __init__(
        self,
        *,
        nc: NATS,
        pool: asyncpg.Pool,
        namespace: str,
        spec: ConsumerSpec,
        handler: Handler,
        batch: int = 64,
        use_inbox: bool = True,
        before_ack: Callable[[Envelope], Awaitable[None]] | None = None,
    ) -> None:
        """``use_inbox=False`` and ``before_ack`` exist for tests only: the first switches the
        protection off for control runs, the second lets a test die between commit and ack."""
        self.nc = nc
        self.pool = pool
        self.namespace = namespace
        self.spec = spec
        self.handler = handler
        self.batch = batch
        self.use_inbox = use_inbox
        self.before_ack = before_ack
        self.contract: type[Contract] = contract_for(spec.publisher, spec.event_type)
        self.processed = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.name = spec.durable()

    async def run(self) -> None:
        js = self.nc.jetstream()
        while True:
            try:
                await ensure_consumer(self.nc, self.namespace, self.spec)
                psub = await js.pull_subscribe_bind(
                    durable=self.name, stream=self.spec.stream(self.namespace)
                )
                break
            except (nats.errors.Error, OSError) as exc:
                logger.warning(
                    "consumer set-up failed; retrying",
                    extra={"consumer": self.name, "error": type(exc).__name__},
                )
                await asyncio.sleep(1.0)
        while True:
            try:
                msgs = await psub.fetch(self.batch, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                _raise_if_cancelling()
                continue
            except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                _raise_if_cancelling()
                logger.debug("fetch failed", extra={"consumer": self.name, "error": repr(exc)})
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                await self.handle(msg)

    async def handle(self, msg: Msg) -> None:
        token = correlation_id.set(header(msg, "Correlation-Id"))
        try:
            await self._handle(msg)
        finally:
            correlation_id.reset(token)

    async def _handle(self, msg: Msg) -> None:
        try:
            envelope = Envelope.model_validate_json(msg.data)
            payload = envelope.parse(self.contract)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(msg, f"undecodable: {type(exc).__name__}")
            return
        while True:
            try:
                async with transaction(self.pool) as conn:
                    if self.use_inbox and not await inbox.claim(conn, self.name, envelope.id):
                        self.duplicates += 1
                    else:
                        await self.handler(conn, envelope, payload)
                        self.processed += 1
                break
            except asyncio.CancelledError:
                raise
            except INFRA_ERRORS as exc:
                logger.warning(
                    "consumer waiting for the database",
                    extra={"consumer": self.name, "error": type(exc).__name__},
                )
                with contextlib.suppress(Exception):
                    await msg.in_progress()
                await asyncio.sleep(1.0)
            except Exception as exc:
                delivered = msg.metadata.num_delivered or 1
                if delivered >= self.spec.max_deliver:
                    await self._dead_letter(
                        msg, f"handler failed {delivered} times: {type(exc).__name__}"
                    )
                else:
                    delay = NAK_DELAYS[min(delivered - 1, len(NAK_DELAYS) - 1)]
                    logger.warning(
                        "handler failed; will retry",
                        extra={
                            "consumer": self.name,
                            "event_id": str(envelope.id),
                            "delivered": delivered,
                            "error": type(exc).__name__,
                        },
                    )
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=delay)
                return
        if self.before_ack is not None:
            await self.before_ack(envelope)
        with contextlib.suppress(Exception):
            await msg.ack()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        delivered = msg.metadata.num_delivered or 1
        stream_seq = msg.metadata.sequence.stream if msg.metadata.sequence else None
        while True:
            try:
                await self.pool.execute(
                    "INSERT INTO dead_letters"
                    " (consumer, subject, stream_seq, deliveries, reason, body)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    self.name,
                    msg.subject,
                    stream_seq,
                    delivered,
                    reason[:500],
                    msg.data,
                )
                break
            except asyncio.CancelledError:
                raise
            except INFRA_ERRORS:
                with contextlib.suppress(Exception):
                    await msg.in_progress()
                await asyncio.sleep(1.0)
        with contextlib.suppress(Exception):
            await self.nc.publish(
                self.spec.deadletter_subject(self.namespace),
                msg.data,
                headers={"Tomoni-Reason": reason[:200], "Tomoni-Subject": msg.subject},
            )
        self.dead_lettered += 1
        logger.error(
            "message dead-lettered",
            extra={
                "consumer": self.name,
                "stream_seq": stream_seq,
                "deliveries": delivered,
                "reason": reason[:200],
            },
        )
        with contextlib.suppress(Exception):
            await msg.term()
