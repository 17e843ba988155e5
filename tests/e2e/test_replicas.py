"""Two replicas of a service against the same PostgreSQL and NATS: every event processed
once between them; a replay of the publisher's ledger changes nothing."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from services.registration import service as registration
from services.registration.app import create_app as registration_app
from services.registration.domain import Category, EventDraft
from services.registration.settings import RegistrationSettings
from shared.runtime import RUNTIME, Runtime
from shared.testing import Servers, wait_until
from tests.e2e.procs import free_port, ready, spawn, stop

N = 200
CONSUMER = "checkin__registration__event_published"


def draft(i: int, revision_hint: int = 0) -> EventDraft:
    start = datetime(2027, 3, 14, 1, tzinfo=UTC) + timedelta(days=i)
    return EventDraft(
        slug=f"replica-{i}",
        kind="seminar",
        title={"ja": f"講習会 {i}", "en": f"Seminar {i}{' (changed)' * revision_hint}"},
        venue={"ja": "会場", "en": "Venue"},
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        categories=(Category(code="participant", title={"en": "Participant"}, capacity=50),),
    )


@pytest.fixture
async def registration_rt(make_settings: Any) -> AsyncIterator[Runtime]:
    app = registration_app(make_settings(RegistrationSettings))
    runner = web.AppRunner(app)
    await runner.setup()  # runs the lifecycle: migrations, bus, relay
    yield app[RUNTIME]
    await runner.cleanup()


async def test_two_checkin_replicas_process_each_event_once_and_replay_is_harmless(
    registration_rt: Runtime,
    servers: Servers,
    database_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    env = {
        "TOMONI_DATABASE_URL": database_url,
        "TOMONI_NATS_URL": servers.nats_url,
        "TOMONI_BUS_NAMESPACE": namespace,
    }
    ports = [free_port(), free_port()]
    procs = [
        spawn(["serve", "checkin", "--port", str(p)], env, tmp_path / f"checkin{i}.log")
        for i, p in enumerate(ports)
    ]
    conn = await asyncpg.connect(database_url)
    try:
        for p in ports:
            await ready(p)
        since = datetime.now(UTC)
        for i in range(N):
            await registration.save_event(registration_rt, draft(i))

        async def processed() -> int:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM checkin.inbox WHERE consumer=$1", CONSUMER
                )
            )

        await wait_until(lambda: _eq(processed(), N), timeout=30, message="all processed")
        assert await conn.fetchval("SELECT count(*) FROM checkin.events") == N
        by_replica = await conn.fetch(
            "SELECT claimed_by, count(*) AS n FROM checkin.inbox WHERE consumer=$1 GROUP BY 1",
            CONSUMER,
        )
        assert sum(r["n"] for r in by_replica) == N

        # Replay the publisher's ledger: every event arrives again and changes nothing.
        from shared.cli import main as tomoni

        await _run_replay(tomoni, env, since)
        js = registration_rt.nc.jetstream()
        stream = f"{namespace}_REGISTRATION".upper()
        await wait_until(
            lambda: _stream_at_least(js, stream, 2 * N), timeout=30, message="replayed"
        )
        await wait_until(
            lambda: _drained(js, stream, "checkin__registration__event_published"),
            timeout=30,
            message="checkin consumed the replay",
        )
        assert await processed() == N
        assert await conn.fetchval("SELECT count(*) FROM checkin.events WHERE revision = 1") == N
        for proc in procs:
            assert stop(proc, signal.SIGTERM) == 0
    finally:
        await conn.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


async def _eq(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def _stream_at_least(js: Any, stream: str, n: int) -> bool:
    return bool((await js.stream_info(stream)).state.messages >= n)


async def _drained(js: Any, stream: str, durable: str) -> bool:
    info = await js.consumer_info(stream, durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def _run_replay(tomoni: Any, env: dict[str, str], since: datetime) -> None:
    import asyncio
    import os

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        code = await asyncio.to_thread(
            tomoni, ["replay", "registration", "--since", since.isoformat()]
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert code == 0
