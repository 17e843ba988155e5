"""PostgreSQL stopped and started again in the middle of a registration burst.

``tomoni serve registration`` runs as a real process against a PostgreSQL of this test's
own (it is stopped, so never the session's shared one) and the session's NATS. Eight
clients register at once, each request with its own ``Idempotency-Key``; after a hundred
acknowledged registrations PostgreSQL goes away for three seconds — a fast shutdown, or
a crash (SIGKILL of every PostgreSQL process, so committed work survives only through
the WAL) — and comes back on the same port and data folder. Then:

- every registration answered ``201`` is stored exactly once, with its ticket;
- every request got an answer within the client's 10 s bound (a timeout is a failure),
  and it was ``201`` or ``503`` with ``Retry-After`` — never a hang, never a ``500``;
- ``/readyz`` said not ready while PostgreSQL was gone, and ready again after;
- new registrations succeed again without restarting the service, within 30 s, and
  the outbox relay publishes everything;
- each ``503``'d request, sent again with its key, leaves exactly one registration.

The control: the outage must have been met (some requests got ``503``), and the check of
acknowledged registrations must report one whose row is deleted (in a transaction rolled
back afterwards).

The second test pins what ``services/checkin/domain.py`` documents for a scanner whose
clock is ten minutes off: ahead is a ``422`` problem on ``scanned_at`` that stores
nothing (the scanner app then sends the scan once without its time); behind is fine.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from shared.embedded import EmbeddedPostgres
from shared.testing import Servers, unique_namespace, wait_until
from tests.e2e.procs import free_port, ready, spawn, stop
from tests.integration.regfixtures import ADMIN, make_event, person, running_registration

REG = "/api/registration"
CHK = "/api/checkin"
CONCURRENCY = 8
BEFORE = 100  # acknowledged registrations before PostgreSQL goes away
AFTER = 100  # acknowledged registrations after it is back
OUTAGE_SECONDS = 3.0
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=10)
RECOVERY_TIMEOUT = 30.0


@dataclass
class Attempt:
    """One registration request and what became of it."""

    key: str
    body: dict[str, Any]
    started: float
    ended: float | None = None
    status: int | None = None  # None: no answer within the bound, or the connection broke
    retry_after: str | None = None
    answer: dict[str, Any] | None = None
    error: str | None = None

    @property
    def latency(self) -> float:
        assert self.ended is not None
        return self.ended - self.started


async def post_registration(
    http: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any]
) -> tuple[int | None, str | None, dict[str, Any] | None, str | None]:
    try:
        async with http.post(
            url, json=body, headers={"Idempotency-Key": key}, timeout=CLIENT_TIMEOUT
        ) as r:
            return r.status, r.headers.get("Retry-After"), await r.json(content_type=None), None
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        return None, None, None, type(exc).__name__


async def burst(
    http: aiohttp.ClientSession, url: str, attempts: list[Attempt], done: asyncio.Event
) -> None:
    """``CONCURRENCY`` clients registering one person after another until ``done``."""
    numbers = itertools.count()

    async def client() -> None:
        while not done.is_set():
            i = next(numbers)
            a = Attempt(
                key=f"burst-{i}",
                body=person(i, email=f"pg{i}@example.org"),
                started=time.monotonic(),
            )
            attempts.append(a)
            a.status, a.retry_after, a.answer, a.error = await post_registration(
                http, url, a.key, a.body
            )
            a.ended = time.monotonic()
            if a.status != 201:
                # A client backs off a little after a refusal (less than Retry-After, to
                # keep pressing the service while PostgreSQL is away).
                await asyncio.sleep(0.2)

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))


@dataclass
class Probe:
    at: float
    status: int | None
    postgres: bool | None


async def watch_readiness(
    http: aiohttp.ClientSession, base: str, probes: list[Probe], done: asyncio.Event
) -> None:
    while not done.is_set():
        at = time.monotonic()
        try:
            async with http.get(f"{base}/readyz", timeout=CLIENT_TIMEOUT) as r:
                body = await r.json()
                probes.append(Probe(at, r.status, body["checks"]["postgres"]))
        except (TimeoutError, aiohttp.ClientError, ValueError):
            probes.append(Probe(at, None, None))
        await asyncio.sleep(0.1)


async def acknowledged_problems(
    conn: asyncpg.Connection, slug: str, acknowledged: dict[str, dict[str, Any]]
) -> list[str]:
    """What is wrong with the acknowledged registrations (email → the 201 answer): each
    must be stored exactly once — one registration with that email in the event, the id
    the answer gave, and the answer's ticket active."""
    rows = await conn.fetch(
        "SELECT r.email, r.id, t.id AS ticket FROM registration.registrations r"
        " LEFT JOIN registration.tickets t ON t.registration_id = r.id AND t.status = 'active'"
        " WHERE r.event_slug = $1",
        slug,
    )
    stored: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        stored[r["email"]].append(r)
    problems = []
    for email, answer in sorted(acknowledged.items()):
        found = stored.get(email, [])
        if len(found) != 1:
            problems.append(f"{email}: acknowledged {answer['id']}, stored {len(found)} times")
            continue
        ticket = (answer.get("ticket") or {}).get("id")
        if str(found[0]["id"]) != answer["id"] or (
            ticket is not None and str(found[0]["ticket"]) != ticket
        ):
            problems.append(f"{email}: acknowledged {answer['id']}, stored {found[0]['id']}")
    return problems


class Postgres:
    """The test's own PostgreSQL. Started and stopped from one thread that lives as long as
    the test: the server's parent-death signal follows the thread that started it, so a
    pool thread that happened to exit would take PostgreSQL with it."""

    def __init__(self, folder: Path) -> None:
        self.pg = EmbeddedPostgres(folder, port=free_port())
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-postgres")

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def start(self) -> str:
        url: str = await self._run(self.pg.start)
        return url

    async def stop(self, mode: str) -> None:
        if mode == "fast":
            await self._run(self.pg.stop)  # SIGINT: PostgreSQL's fast shutdown
            return
        proc = self.pg.proc
        assert proc is not None and os.getpgid(proc.pid) == proc.pid

        def crash() -> None:
            os.killpg(proc.pid, signal.SIGKILL)  # the postmaster and every backend at once
            proc.wait(10)

        await self._run(crash)
        self.pg.proc = None

    async def close(self) -> None:
        await self._run(self.pg.stop)
        self._thread.shutdown()


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[Postgres]:
    pg = Postgres(tmp_path / "pg")
    await pg.start()
    yield pg
    await pg.close()


@pytest.mark.parametrize("mode", ["fast", "crash"])
async def test_registrations_survive_a_postgres_restart_mid_burst(
    mode: str, own_postgres: Postgres, servers: Servers, tmp_path: Path
) -> None:
    began = time.monotonic()
    dsn = own_postgres.pg.url
    port = free_port()
    env = {
        "TOMONI_DATABASE_URL": dsn,
        "TOMONI_NATS_URL": servers.nats_url,
        "TOMONI_BUS_NAMESPACE": unique_namespace(),
        "TOMONI_DATA_DIR": str(tmp_path / "data"),
        "TOMONI_ADMIN_EMAIL": ADMIN[0],
        "TOMONI_ADMIN_PASSWORD": ADMIN[1],
        "TOMONI_RATE_LIMIT": "0",
        "TOMONI_LOG_LEVEL": "WARNING",
        "TOMONI_OUTBOX_POLL_SECONDS": "0.2",
        "TOMONI_RELAY_LOCK_RETRY_SECONDS": "0.2",
    }
    proc = spawn(["serve", "registration", "--port", str(port)], env, tmp_path / "reg.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await ready(port)
        async with aiohttp.ClientSession() as http:
            slug = await create_event(http, base)
            url = f"{base}{REG}/events/{slug}/registrations"
            attempts: list[Attempt] = []
            probes: list[Probe] = []
            done = asyncio.Event()
            tasks = [
                asyncio.create_task(burst(http, url, attempts, done)),
                asyncio.create_task(watch_readiness(http, base, probes, done)),
            ]

            def acknowledged_since(t: float) -> int:
                return sum(1 for a in attempts if a.status == 201 and a.started >= t)

            try:
                await wait_until(
                    lambda: acknowledged_since(0) >= BEFORE, timeout=30, message="the burst"
                )
                down = time.monotonic()
                await own_postgres.stop(mode)
                stopped = time.monotonic()
                await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for state
                await own_postgres.start()
                up = time.monotonic()
                await wait_until(
                    lambda: acknowledged_since(up) >= 1,
                    timeout=RECOVERY_TIMEOUT,
                    message="a registration after the restart",
                )
                recovered = min(
                    a.ended or up for a in attempts if a.status == 201 and a.started >= up
                )
                await wait_until(
                    lambda: acknowledged_since(up) >= AFTER, timeout=30, message="the rest"
                )
                await wait_until(
                    lambda: any(p.status == 200 and p.at >= up for p in probes),
                    timeout=RECOVERY_TIMEOUT,
                    message="ready again",
                )
            finally:
                done.set()
                await asyncio.gather(*tasks)
            assert proc.poll() is None, "the service must recover without a restart"

            # Every request was answered within the bound, and only with 201 or 503.
            unanswered = [a for a in attempts if a.status is None]
            assert not unanswered, [(a.key, a.error, a.latency) for a in unanswered]
            statuses = {a.status for a in attempts}
            assert statuses <= {201, 503}, [
                (a.key, a.status, a.answer) for a in attempts if a.status not in (201, 503)
            ]
            refused = [a for a in attempts if a.status == 503]
            bad_retry_after = [a.key for a in refused if not (a.retry_after or "").isdigit()]
            assert not bad_retry_after, bad_retry_after
            during = [a for a in attempts if down <= a.started < up]
            # Control: the outage was met, and refused, while PostgreSQL was away.
            assert refused and during
            assert any(a.status == 503 for a in during)
            assert any(
                p.status == 503 and p.postgres is False for p in probes if stopped <= p.at < up
            ), "readyz must say not ready while PostgreSQL is away"

            # Every 201 is stored exactly once, across the restart.
            first_answers = {
                a.body["email"]: a.answer
                for a in attempts
                if a.status == 201 and a.answer is not None
            }
            conn = await asyncpg.connect(dsn)
            try:
                assert await acknowledged_problems(conn, slug, first_answers) == []
                await control_a_lost_registration_is_reported(conn, slug, first_answers)

                # Each refused request sent again with its key: exactly one registration.
                stored_before = {
                    r["email"]: str(r["id"])
                    for r in await conn.fetch(
                        "SELECT email, id FROM registration.registrations WHERE event_slug=$1",
                        slug,
                    )
                }
                committed_anyway = 0
                final: dict[str, dict[str, Any]] = dict(first_answers)
                for a in refused:
                    status, _, answer, error = await post_registration(http, url, a.key, a.body)
                    assert status == 201 and answer is not None, (a.key, status, answer, error)
                    email = a.body["email"]
                    if email in stored_before:  # committed, but the answer was lost
                        assert stored_before[email] == answer["id"]
                        committed_anyway += 1
                    final[email] = answer
                assert await acknowledged_problems(conn, slug, final) == []
                total = await conn.fetchval(
                    "SELECT count(*) FROM registration.registrations WHERE event_slug=$1", slug
                )
                assert total == len(attempts) == len(final)

                # The outbox relay reconnected by itself and published everything.
                await wait_until(
                    lambda: all_sent(conn),
                    timeout=RECOVERY_TIMEOUT,
                    message="the outbox relay publishing every row after the restart",
                )
            finally:
                await conn.close()
        assert stop(proc, signal.SIGTERM) == 0

        max_during = max(a.latency for a in during)
        refused_after = sum(1 for a in refused if a.started >= recovered)
        ready_again = min(p.at for p in probes if p.status == 200 and p.at >= up)
        print(
            f"\n[pg restart, {mode}] requests {len(attempts)}, 201 {len(first_answers)},"
            f" 503 {len(refused)} (of which committed anyway: {committed_anyway}),"
            f" during the outage {len(during)} (max latency {max_during:.3f} s),"
            f" PostgreSQL away {up - down:.2f} s (stop took {stopped - down:.2f} s),"
            f" first 201 after it was back {recovered - up:.2f} s,"
            f" 503 after that {refused_after},"
            f" ready again {ready_again - up:.2f} s,"
            f" run {time.monotonic() - began:.1f} s"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def all_sent(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval("SELECT count(*) FROM registration.outbox WHERE sent_at IS NULL") == 0
    )


async def control_a_lost_registration_is_reported(
    conn: asyncpg.Connection, slug: str, acknowledged: dict[str, dict[str, Any]]
) -> None:
    """The check must be able to fail: one acknowledged registration deleted (in a
    transaction rolled back afterwards) is reported, and only that one."""
    email, answer = next(iter(sorted(acknowledged.items())))
    tx = conn.transaction()
    await tx.start()
    try:
        reg_id = uuid.UUID(answer["id"])
        await conn.execute("DELETE FROM registration.tickets WHERE registration_id=$1", reg_id)
        await conn.execute("DELETE FROM registration.registrations WHERE id=$1", reg_id)
        problems = await acknowledged_problems(conn, slug, acknowledged)
        assert problems == [f"{email}: acknowledged {answer['id']}, stored 0 times"]
    finally:
        await tx.rollback()
    assert await acknowledged_problems(conn, slug, acknowledged) == []


async def create_event(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(
        f"{base}{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
    ) as r:
        assert r.status == 200, await r.text()
        admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
    slug = f"pg-{uuid.uuid4().hex[:10]}"
    start = datetime.now(UTC) + timedelta(days=30)
    async with http.post(
        f"{base}{REG}/events",
        headers=admin,
        json={
            "slug": slug,
            "kind": "fair",
            "title": {"ja": "再起動テスト", "en": "Restart test"},
            "venue": {"ja": "会場"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=6)).isoformat(),
            "categories": [{"code": "visitor", "title": {"ja": "来場者"}, "capacity": 100_000}],
        },
    ) as r:
        assert r.status == 201, await r.text()
    return slug


# -- a scanner whose clock is ten minutes off -------------------------------------------
@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


@pytest.fixture(scope="module")
async def chk(make_settings: Any, reg: TestClient) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(checkin_app(make_settings(CheckinSettings, rate_limit=False))))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def test_a_scanner_clock_ten_minutes_ahead_is_refused_and_behind_is_trusted(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool
) -> None:
    r = await reg.post(f"{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
    admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
    slug = await make_event(reg)
    tickets = []
    for i in range(3):
        r = await reg.post(f"{REG}/events/{slug}/registrations", json=person(i))
        assert r.status == 201
        tickets.append((await r.json())["ticket"])
    made = await (
        await reg.post(
            f"{REG}/events/{slug}/devices", headers=admin, json={"role": "gate", "place": "east"}
        )
    ).json()
    paired = await (
        await reg.post(f"{REG}/devices/pair", json={"pairing_code": made["pairing_code"]})
    ).json()
    gate = {"Authorization": f"Bearer {paired['device_token']}"}
    device = uuid.UUID(made["device_id"])
    await wait_until(
        lambda: db.fetchval("SELECT true FROM checkin.devices WHERE id=$1", device),
        timeout=30,
        message="the gate reached checkin",
    )

    async def scan(scan_id: str, qr: str, at: datetime | None) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"client_scan_id": scan_id, "qr_text": qr, "direction": "in"}
        if at is not None:
            body["scanned_at"] = at.isoformat()
        r = await chk.post(f"{CHK}/scans", json=body, headers=gate)
        return r.status, await r.json()

    def stored(scan_id: str) -> Any:
        return db.fetchrow(
            "SELECT scanned_at, result FROM checkin.scans WHERE device_id=$1 AND client_scan_id=$2",
            device,
            scan_id,
        )

    # Ten minutes ahead: a request error on scanned_at; nothing stored, nobody admitted.
    ahead = datetime.now(UTC) + timedelta(minutes=10)
    status, problem = await scan("ahead", tickets[0]["qr_text"], ahead)
    assert status == 422, problem
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("scanned_at", "in_future")]
    assert await stored("ahead") is None
    # What the scanner app does next (static/scan/sync.js, repair): the same scan once
    # more without its time. It is admitted, at the server's time.
    status, answer = await scan("ahead", tickets[0]["qr_text"], None)
    assert (status, answer["result"]) == (200, "admitted")
    row = await stored("ahead")
    assert abs(row["scanned_at"] - datetime.now(UTC)) < timedelta(minutes=1)

    # Ten minutes behind (or a queue synced late): admitted, at the device's time.
    behind = datetime.now(UTC) - timedelta(minutes=10)
    status, answer = await scan("behind", tickets[1]["qr_text"], behind)
    assert (status, answer["result"]) == (200, "admitted")
    row = await stored("behind")
    assert (row["scanned_at"], row["result"]) == (behind, "admitted")

    # The control: within the five minutes' tolerance, ahead is accepted.
    status, answer = await scan(
        "slightly-ahead", tickets[2]["qr_text"], ahead - timedelta(minutes=6)
    )
    assert (status, answer["result"]) == (200, "admitted")
