"""Sending: one loop per configured channel takes the oldest due message, renders it,
sends it and records the outcome, one message per transaction.

Why one at a time, holding the row lock while sending: a process killed between the
provider's OK and the commit can only leave that one message unmarked; it is sent again
by whichever sender takes it next (at once: the lock went with the dead connection),
with the same Message-ID. Replicas share the queue through ``FOR UPDATE SKIP LOCKED``.

A channel that is down (refused connection, 4xx, timeout) holds its whole queue: the
loop waits with exponential backoff and tries the oldest message again, so nothing is
lost, nothing is counted dead for an outage, and when the provider returns the backlog
leaves in order of creation at no more than the channel's rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.notify import domain, repository, service
from services.notify.channels import (
    Channel,
    ChannelDown,
    Outgoing,
    Refused,
    Rejected,
    channels_for_settings,
)
from services.notify.render import EventInfo, render
from services.notify.settings import NotifySettings
from shared.consumer import INFRA_ERRORS
from shared.runtime import Runtime

logger = logging.getLogger("tomoni.notify")

EVENT_GRACE_SECONDS = 30.0


class Bucket:
    """A token bucket: at most ``rate`` messages a second, bursts of one second's worth."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.at = clock()

    async def take(self) -> None:
        while True:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1 - 1e-9:  # not stuck an ulp short of a whole token
                self.tokens = max(0.0, self.tokens - 1)
                return
            await self.sleep((1 - self.tokens) / self.rate)


def _settings(rt: Runtime) -> NotifySettings:
    assert isinstance(rt.settings, NotifySettings)
    return rt.settings


async def _values(rt: Runtime, conn: asyncpg.Connection, job: asyncpg.Record) -> dict[str, Any]:
    context = dict(job["context"] or {})
    values: dict[str, Any] = {
        "name": job["name"] or "",
        "manage_url": context.get("manage_url") or job["manage_url"],
        "ticket_id": context.get("ticket_id"),
        "qr_text": context.get("qr_text"),
        "position": context.get("position"),
    }
    if job["template"] == "announcement" and job["announcement_id"]:
        a = await repository.announcement(conn, job["announcement_id"])
        values["announcement"] = {"subject": a["subject"], "body": a["body"]} if a else {}
        values["unsubscribe_url"] = await service.unsubscribe_url(rt, job["registration_id"])
    return values


@dataclass
class Prepared:
    """A claimed message, rendered and encoded, its row lock held by ``conn``'s open
    transaction until :func:`deliver` records the outcome."""

    conn: Any
    job: asyncpg.Record
    encoded: Any
    detail: dict[str, Any]


async def prepare(rt: Runtime, channel: Channel) -> Prepared | str:
    """Claim the oldest due message of ``channel`` and make it ready to send (rendered,
    encoded). Returns a string instead when there is nothing to send now (``idle``,
    ``waiting``) or the message was settled without sending (``skipped``, ``deferred``,
    ``dead``)."""
    settings = _settings(rt)
    conn = await rt.pool.acquire()
    await conn.execute("BEGIN")
    keep = False
    try:
        job = await repository.claim(conn, channel.name)
        if job is None:
            return "idle"
        job_id: uuid.UUID = job["id"]
        if not domain.may_send(job["template"], job["registration_status"]):
            await repository.mark_skipped(
                conn, job_id, f"registration {job['registration_status'] or 'unknown'}"
            )
            return "skipped"
        if (
            channel.name == "sms"
            and await repository.sms_sent_recently(conn, job["recipient"], hours=24)
            >= settings.notify_sms_per_recipient_per_day
        ):
            # Someone registering and cancelling one number over and over (from many
            # addresses) must not make the city pay for a flood of SMS to it.
            await repository.mark_skipped(conn, job_id, "sms limit for this number reached")
            logger.warning("sms limit for a number reached", extra={"notification": str(job_id)})
            return "skipped"
        if not job["event_known"]:
            # The event's description comes on its own consumer and is on its way: the
            # channel waits for it rather than send later messages first. A message whose
            # event has not come for a while steps aside so it cannot hold the queue.
            age = await conn.fetchval("SELECT now() - $1::timestamptz", job["created_at"])
            if age.total_seconds() < EVENT_GRACE_SECONDS:
                return "waiting"
            await repository.mark_failed(
                conn, job_id, error="event not known yet", retry_in=10.0, count_attempt=False
            )
            return "deferred"
        values = await _values(rt, conn, job)
        try:
            rendered = render(
                job["template"],
                job["language"],
                EventInfo(
                    title=job["event_title"],
                    venue=job["event_venue"],
                    starts_at=job["event_starts_at"],
                    ends_at=job["event_ends_at"],
                    timezone=job["event_timezone"],
                ),
                values,
            )
        except Exception as exc:  # nothing half-rendered is ever sent
            await repository.mark_failed(
                conn, job_id, error=f"render failed: {type(exc).__name__}: {exc}", retry_in=None
            )
            logger.error("notification cannot be rendered", extra={"notification": str(job_id)})
            return "dead"
        detail: dict[str, Any] = {"languages": list(rendered.languages)}
        sms_text = ""
        if channel.name == "sms":
            link = values["manage_url"] if job["template"] not in ("announcement",) else None
            fitted = domain.fit_sms(
                rendered.sms, settings.notify_sms_max_segments, f" {link}" if link else ""
            )
            sms_text = fitted.text
            detail.update(
                encoding=fitted.encoding, segments=fitted.segments, truncated=fitted.truncated
            )
        headers: dict[str, str] = {}
        if job["template"] == "announcement" and values.get("unsubscribe_url"):
            headers["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        outgoing = Outgoing(
            to=job["recipient"],
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            sms=sms_text,
            language=rendered.languages[0],
            message_id=job["message_id"],
            qr_text=values["qr_text"] if channel.name == "email" else None,
            headers=headers,
        )
        prepared = Prepared(conn, job, channel.encode(outgoing), detail)
        keep = True
        return prepared
    finally:
        if not keep:
            await _close(rt, conn)


async def _close(rt: Runtime, conn: Any, *, commit: bool = True) -> None:
    """End the transaction (commit what was recorded, or roll back) and give the
    connection back. Transactions are plain BEGIN/COMMIT statements so that the last
    step of a delivery (its mark and the commit) is one round trip."""
    try:
        await conn.execute("COMMIT" if commit else "ROLLBACK")
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.execute("ROLLBACK")
        conn.terminate()  # never back to the pool with a transaction open
        raise
    finally:
        await rt.pool.release(conn)


def _mark_sent_and_commit(job_id: uuid.UUID, detail: dict[str, Any]) -> str:
    """One simple-protocol round trip. The values are a UUID and JSON this module made
    (ASCII, single quotes doubled): nothing from outside goes into the text."""
    literal = json.dumps(detail, ensure_ascii=True).replace("'", "''")
    return (
        "UPDATE notifications SET status = 'sent', sent_at = now(),"
        f" attempts = attempts + 1, last_error = NULL, detail = '{literal}'::jsonb"
        f" WHERE id = '{uuid.UUID(str(job_id))}'; COMMIT"
    )


async def deliver(rt: Runtime, channel: Channel, bucket: Bucket, p: Prepared) -> str:
    """Send a prepared message and record what happened, in its transaction."""
    settings = _settings(rt)
    job_id: uuid.UUID = p.job["id"]
    retry: float | None
    try:
        await bucket.take()
        try:
            await channel.send(p.encoded)
        except ChannelDown as exc:
            outcome, error, retry = "down", str(exc), 0.0
        except Refused as exc:
            attempts = p.job["attempts"] + 1
            outcome, error = "refused", str(exc)
            retry = (
                None
                if attempts >= settings.notify_max_attempts
                else domain.backoff_seconds(
                    attempts,
                    base=settings.notify_retry_base_seconds,
                    cap=settings.notify_retry_cap_seconds,
                )
            )
        except Rejected as exc:
            outcome, error, retry = "rejected", str(exc), None
        else:
            await p.conn.execute(_mark_sent_and_commit(job_id, p.detail))
            service.touch(rt, p.job["event"])
            return "sent"
        await repository.mark_failed(p.conn, job_id, error=error, retry_in=retry)
        await p.conn.execute("COMMIT")
        service.touch(rt, p.job["event"])
        return outcome
    except BaseException:
        with contextlib.suppress(Exception):
            await p.conn.execute("ROLLBACK")
        p.conn.terminate()  # never back to the pool with a transaction open
        raise
    finally:
        await rt.pool.release(p.conn)


async def drain(rt: Runtime, channel: Channel, bucket: Bucket) -> str:
    """Send due messages one after another until none is left (``idle``), the channel is
    down (``down``) or a message waits for its event (``waiting``).

    While one message is on the wire, the next is claimed, rendered and encoded: the
    work of one overlaps the other's wait, yet messages still leave one at a time and in
    order, and a kill can leave only the one on the wire unrecorded (the next has not
    been sent; its lock goes with the connection)."""
    nxt = await prepare(rt, channel)
    while True:
        if isinstance(nxt, str):
            if nxt in ("idle", "waiting"):
                return nxt
            nxt = await prepare(rt, channel)
            continue
        following = asyncio.create_task(prepare(rt, channel))
        try:
            outcome = await deliver(rt, channel, bucket, nxt)
        except BaseException:
            await _abandon(rt, following)
            raise
        if outcome == "down":
            await _abandon(rt, following)
            return "down"
        nxt = await following


async def _abandon(rt: Runtime, task: asyncio.Task[Prepared | str]) -> None:
    """Give back a message prepared but not sent (its claim is rolled back)."""
    try:
        result = await task
    except Exception:
        return
    if isinstance(result, Prepared):
        await _close(rt, result.conn, commit=False)


async def send_one(rt: Runtime, channel: Channel, bucket: Bucket) -> str:
    """One message, not pipelined (for tests and tools): what happened to it."""
    prepared = await prepare(rt, channel)
    if isinstance(prepared, str):
        return prepared
    return await deliver(rt, channel, bucket, prepared)


async def _channel_loop(rt: Runtime, channel: Channel, wake: asyncio.Event) -> None:
    settings = _settings(rt)
    rate = (
        settings.notify_email_per_second
        if channel.name == "email"
        else settings.notify_sms_per_second
    )
    bucket = Bucket(rate)
    outages = 0
    while True:
        wake.clear()
        try:
            while True:
                outcome = await drain(rt, channel, bucket)
                if outcome == "idle":
                    outages = 0
                    break
                if outcome == "down":
                    outages += 1
                    pause = domain.backoff_seconds(
                        outages,
                        base=settings.notify_channel_retry_base_seconds,
                        cap=settings.notify_channel_retry_cap_seconds,
                    )
                    logger.warning(
                        "channel down; waiting",
                        extra={"channel": channel.name, "seconds": round(pause, 2)},
                    )
                    await asyncio.sleep(pause)
                else:  # waiting for an event's description
                    await asyncio.sleep(0.2)
        except INFRA_ERRORS as exc:
            logger.warning(
                "notify dispatcher cannot reach the database; retrying",
                extra={"channel": channel.name, "error": type(exc).__name__},
            )
            await asyncio.sleep(1.0)
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wake.wait(), settings.notify_poll_seconds)


async def _listen(rt: Runtime, wakes: list[asyncio.Event]) -> None:
    """Wake the channel loops when a transaction that created messages commits."""

    def woken(*_: Any) -> None:
        for w in wakes:
            w.set()

    while True:
        try:
            conn = await asyncpg.connect(rt.settings.database_url)
            try:
                await conn.add_listener(repository.JOBS_CHANNEL, woken)
                woken()
                while not conn.is_closed():
                    await asyncio.sleep(5)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
        except INFRA_ERRORS:
            await asyncio.sleep(1.0)


async def dispatcher(rt: Runtime) -> None:
    """Background job: the channel loops and their wake-up listener."""
    channels = channels_for_settings(rt.settings, _settings(rt).notify_smtp_timeout_seconds)
    rt.state["channels"] = channels
    if not channels:
        logger.warning("no channel configured (TOMONI_SMTP_URL, TOMONI_SMS_URL): nothing is sent")
        return
    wakes = [asyncio.Event() for _ in channels]
    tasks = [asyncio.create_task(_listen(rt, wakes))]
    tasks += [
        asyncio.create_task(_channel_loop(rt, ch, w), name=f"notify-{ch.name}")
        for ch, w in zip(channels.values(), wakes, strict=True)
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        for ch in channels.values():
            with contextlib.suppress(Exception):
                await ch.close()


async def scheduler(rt: Runtime) -> None:
    """Background job: queue due reminders; delete personal data past its retention."""
    settings = _settings(rt)
    last_purge = 0.0
    while True:
        try:
            made = await service.make_due_reminders(rt)
            if made:
                logger.info("reminders queued", extra={"count": made})
            if time.monotonic() - last_purge >= settings.maintenance_interval_seconds:
                purged = await repository.purge_expired(rt.pool)
                last_purge = time.monotonic()
                if any(purged.values()):
                    logger.info("personal data past retention deleted", extra=purged)
        except INFRA_ERRORS as exc:
            logger.warning("notify scheduler failed; retrying", extra={"error": type(exc).__name__})
        await asyncio.sleep(settings.notify_reminder_poll_seconds)
