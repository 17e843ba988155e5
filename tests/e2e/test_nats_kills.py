"""nats-server killed (SIGKILL) again and again while 20 gate phones scan: every scan
acknowledged to a phone is stored exactly once, every downstream effect happens exactly
once (stamprally's copy of the admissions, the live counts, each registrant's one ticket
email), and the consumers catch up within 30 s of the server's last return.

The services run as ``tomoni serve`` processes against a NATS of the test's own (so it
can be killed) and the session's PostgreSQL. Each ticket is scanned in, out, in, out,
in at one phone (the category allows re-entry), sometimes twice with the same
``client_scan_id`` (the phone's retry). The short run is in ``make test``; the issue's
run (10,000 scans, 5 kills) is ``make soak``."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import nats
import pytest

from shared.embedded import EmbeddedNats
from shared.testing import unique_namespace, wait_until
from tests.e2e.procs import free_port, ready, spawn
from tests.integration.mailfixtures import Mailbox, SmtpServer

ADMIN = ("kills@tomoni.test", "kills password 123")
DEVICES = 20
SEQUENCE = ("in", "out", "in", "out", "in")  # five scans per ticket
RECOVERY_SECONDS = 30.0
SECONDS_PER_KILL = 8.0  # the phones' pace: one kill, outage and recovery in this time


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    yield server
    if server.proc is not None:
        server.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, SmtpServer]]:
    box = Mailbox()
    smtp = SmtpServer(box)
    smtp.start()
    yield box, smtp
    smtp.stop()


@pytest.fixture
async def services(
    own_nats: EmbeddedNats,
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
    tmp_path: Path,
) -> AsyncIterator[dict[str, Any]]:
    env = {
        "TOMONI_DATABASE_URL": database_url,
        "TOMONI_NATS_URL": own_nats.url,
        "TOMONI_BUS_NAMESPACE": unique_namespace(),
        "TOMONI_DATA_DIR": str(tmp_path / "data"),
        "TOMONI_ADMIN_EMAIL": ADMIN[0],
        "TOMONI_ADMIN_PASSWORD": ADMIN[1],
        "TOMONI_SMTP_URL": mailbox[1].url,
        "TOMONI_RATE_LIMIT": "0",
        "TOMONI_OUTBOX_POLL_SECONDS": "0.2",
        "TOMONI_CONSUMER_ACK_WAIT_SECONDS": "3",
        "TOMONI_NOTIFY_POLL_SECONDS": "0.2",
        "TOMONI_LOG_LEVEL": "WARNING",
    }
    ports = {s: free_port() for s in ("registration", "checkin", "stamprally", "notify")}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, port in ports.items():
            procs.append(spawn(["serve", name, "--port", str(port)], env, tmp_path / f"{name}.log"))
            await ready(port, timeout=90)
        yield {"env": env, "ports": ports}
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


async def test_nats_killed_during_scans_loses_and_doubles_nothing(
    services: dict[str, Any],
    own_nats: EmbeddedNats,
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
) -> None:
    await run(services, own_nats, mailbox, database_url, tickets=300, kills=2)


@pytest.mark.soak
async def test_nats_killed_five_times_during_ten_thousand_scans(
    services: dict[str, Any],
    own_nats: EmbeddedNats,
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
) -> None:
    await run(services, own_nats, mailbox, database_url, tickets=2_000, kills=5)


async def run(
    services: dict[str, Any],
    own_nats: EmbeddedNats,
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
    *,
    tickets: int,
    kills: int,
) -> None:
    seed = int(os.environ.get("TOMONI_TEST_SEED", time.time()))
    rng = random.Random(seed)
    ports = services["ports"]
    reg = f"http://127.0.0.1:{ports['registration']}"
    chk = f"http://127.0.0.1:{ports['checkin']}"
    namespace = services["env"]["TOMONI_BUS_NAMESPACE"]
    db = await asyncpg.connect(database_url)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        admin = await _login(http, reg)
        slug = f"kills-{uuid.uuid4().hex[:8]}"
        await _event(http, reg, admin, slug, tickets)
        phones = [await _pair(http, reg, admin, slug, f"g{d % 4}") for d in range(DEVICES)]
        for device_id, _ in phones:
            await wait_until(
                lambda d=device_id: db.fetchval(
                    "SELECT true FROM checkin.devices WHERE id = $1", d
                ),
                timeout=30,
                message="checkin knows the phones",
            )
        made = await _register_all(http, reg, slug, tickets)
        await wait_until(
            lambda: _count_is(
                db, "SELECT count(*) FROM checkin.tickets WHERE event_slug = $1", slug, tickets
            ),
            timeout=60,
            message="checkin knows every ticket",
        )

        acked: dict[tuple[uuid.UUID, str], str] = {}  # (device, client_scan_id) → result
        done = asyncio.Event()

        # The phones keep a pace that leaves time for every kill and recovery while
        # they scan (about SECONDS_PER_KILL each): unpaced, a fast machine made all
        # its scans within the first outage.
        pace = tickets * len(SEQUENCE) / (kills * SECONDS_PER_KILL)  # scans per second
        interval = DEVICES / pace  # between one phone's scans

        async def phone(index: int, mine: list[dict[str, Any]]) -> None:
            device_id, token = phones[index]
            due = time.monotonic() + index * interval / DEVICES
            for ticket in mine:
                for n, direction in enumerate(SEQUENCE):
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    due += interval
                    scan_id = f"{ticket['id']}-{n}"
                    body = {
                        "client_scan_id": scan_id,
                        "qr_text": ticket["qr_text"],
                        "direction": direction,
                    }
                    for _ in range(2 if rng.random() < 0.1 else 1):  # a phone's retry
                        answer = await _scan(http, chk, token, body)
                        first = acked.setdefault((device_id, scan_id), answer["result"])
                        assert first == answer["result"], "a retry got another answer"

        recoveries: list[float] = []

        total = tickets * len(SEQUENCE)

        async def killer() -> tuple[int, float]:
            """Kill NATS a few times while the phones scan: how many times, and when it
            last came back.

            Each kill waits for the phones' progress, not for a time: the next kill comes
            once part of the scans still to make are acknowledged. A wall-clock wait let
            a fast machine finish every scan before the first kill."""
            returned, count = 0.0, 0
            for k in range(kills):
                start = len(acked)
                share = (total - start) / (kills - k + 1)
                mark = start + share * rng.uniform(0.5, 1.0)
                while len(acked) < mark and not done.is_set():
                    await asyncio.sleep(0.005)
                if done.is_set():
                    break
                own_nats.kill()
                count += 1
                await asyncio.sleep(rng.uniform(1.0, 3.0))
                own_nats.start()
                returned = time.monotonic()
                recoveries.append(
                    await _recovery(own_nats.url, namespace, datetime.now(UTC), database_url)
                    - returned
                )
            return count, returned

        shares = [made[i::DEVICES] for i in range(DEVICES)]

        async def all_phones() -> None:
            await asyncio.gather(*(phone(i, s) for i, s in enumerate(shares)))
            done.set()

        _, (killed, last_return) = await asyncio.gather(all_phones(), killer())

        # Then every consumer drains, and stamprally and notify complete.
        nc = await nats.connect(own_nats.url)
        js = nc.jetstream()

        async def drained() -> bool:
            for publisher in ("REGISTRATION", "CHECKIN"):
                for info in await js.consumers_info(f"{namespace}_{publisher}".upper()):
                    if info.num_pending or info.num_ack_pending:
                        return False
            admitted = await db.fetchval(
                "SELECT count(*) FROM stamprally.checked_in WHERE event = $1", slug
            )
            return bool(admitted == tickets)

        await wait_until(drained, timeout=120, interval=0.5, message="consumers drained")
        caught_up = time.monotonic() - last_return
        wanted = {m["email"] for m in made}
        await wait_until(
            lambda: _true(wanted <= {m["To"] for m in mailbox[0].snapshot()}),
            timeout=90,
            interval=0.5,
            message="every ticket email",
        )
        await nc.close()
        stored = await db.fetch(
            "SELECT device_id, client_scan_id, result FROM checkin.scans WHERE event_slug = $1",
            slug,
        )
        counts = await _counts(http, chk, admin, slug)
        presence = await db.fetch(
            "SELECT inside, entries FROM checkin.presence WHERE event_slug = $1", slug
        )
    await db.close()
    found = problems(acked, stored, presence, tickets, counts, mailbox[0], wanted)
    print(
        f"\nnats kills (seed {seed}): {len(acked)} scans acknowledged, {killed} kills,"
        f" consumers back at work {', '.join(f'{r:.1f}' for r in recoveries)} s after"
        f" each return; everything drained {caught_up:.1f} s after the last"
    )
    assert found == [], found
    assert killed >= 1, "the phones finished before NATS was ever killed"
    assert recoveries and max(recoveries) <= RECOVERY_SECONDS, recoveries
    # The control: the same checks see a lost scan and a doubled email.
    lost = stored[1:]
    assert problems(acked, lost, presence, tickets, counts, mailbox[0], wanted)
    twice = Mailbox()
    twice.messages = [*mailbox[0].snapshot(), mailbox[0].snapshot()[0]]
    assert problems(acked, stored, presence, tickets, counts, twice, wanted)


def problems(
    acked: dict[tuple[uuid.UUID, str], str],
    stored: list[Any],
    presence: list[Any],
    tickets: int,
    counts: dict[str, Any],
    box: Mailbox,
    wanted: set[str],
) -> list[str]:
    found = []
    rows = Counter((r["device_id"], r["client_scan_id"]) for r in stored)
    if set(rows) != set(acked):
        found.append(f"scans stored {len(rows)} != acknowledged {len(acked)}")
    if any(n > 1 for n in rows.values()):
        found.append("a scan stored twice")
    results = {(r["device_id"], r["client_scan_id"]): r["result"] for r in stored}
    if any(results.get(k) != v for k, v in acked.items()):
        found.append("a stored result differs from the phone's answer")
    want = Counter({"admitted": 3 * tickets, "exited": 2 * tickets})
    if Counter(acked.values()) != want:
        found.append(f"answers {Counter(acked.values())} != {want}")
    if len(presence) != tickets or any(not p["inside"] or p["entries"] != 3 for p in presence):
        found.append("presence is not every ticket inside after three entries")
    if counts.get("admitted_parties") != tickets or counts.get("inside_people") != tickets:
        found.append(f"live counts {counts} != {tickets} inside")
    mail = Counter(m["To"] for m in box.snapshot() if m["To"] in wanted)
    if set(mail) != wanted or any(n != 1 for n in mail.values()):
        found.append("not exactly one ticket email each")
    return found


# -- helpers --------------------------------------------------------------------------
async def _recovery(url: str, namespace: str, since: datetime, dsn: str) -> float:
    """When (monotonic) the bus is at work again after NATS came back ``since``: the
    outbox relays have published everything committed before then, and every consumer
    has acknowledged something since then or has nothing left to do."""
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    db = await asyncpg.connect(dsn)
    try:

        async def at_work() -> bool:
            for schema in ("registration", "checkin"):
                if await db.fetchval(
                    f"SELECT count(*) FROM {schema}.outbox"
                    " WHERE sent_at IS NULL AND created_at < $1",
                    since,
                ):
                    return False
            for publisher in ("REGISTRATION", "CHECKIN"):
                for info in await js.consumers_info(f"{namespace}_{publisher}".upper()):
                    idle = not info.num_pending and not info.num_ack_pending
                    acked = info.ack_floor.last_active if info.ack_floor else None
                    if not idle and not (acked and acked > since):
                        return False
            return True

        await wait_until(at_work, timeout=90, interval=0.2, message="consumers at work")
        return time.monotonic()
    finally:
        await nc.close()
        await db.close()


async def _true(value: bool) -> bool:
    return value


async def _count_is(db: asyncpg.Connection, sql: str, arg: str, n: int) -> bool:
    return bool(await db.fetchval(sql, arg) == n)


async def _login(http: aiohttp.ClientSession, reg: str) -> dict[str, str]:
    async with http.post(
        f"{reg}/api/registration/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
    ) as r:
        return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def _event(
    http: aiohttp.ClientSession, reg: str, admin: dict[str, str], slug: str, capacity: int
) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    async with http.post(
        f"{reg}/api/registration/events",
        headers=admin,
        json={
            "slug": slug,
            "kind": "fair",
            "title": {"ja": "多文化ふれあいフェスタ"},
            "venue": {"ja": "キュポ・ラ広場"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=6)).isoformat(),
            "categories": [
                {
                    "code": "visitor",
                    "title": {"ja": "来場者"},
                    "capacity": capacity,
                    "reentry": True,
                }
            ],
        },
    ) as r:
        assert r.status == 201, await r.text()


async def _pair(
    http: aiohttp.ClientSession, reg: str, admin: dict[str, str], slug: str, gate: str
) -> tuple[uuid.UUID, str]:
    async with http.post(
        f"{reg}/api/registration/events/{slug}/devices",
        headers=admin,
        json={"role": "gate", "place": gate},
    ) as r:
        made = await r.json()
    async with http.post(
        f"{reg}/api/registration/devices/pair", json={"pairing_code": made["pairing_code"]}
    ) as r:
        token = (await r.json())["device_token"]
    return uuid.UUID(made["device_id"]), f"Bearer {token}"


async def _register_all(
    http: aiohttp.ClientSession, reg: str, slug: str, n: int
) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(8)
    tag = uuid.uuid4().hex[:6]

    async def one(i: int) -> dict[str, Any]:
        email = f"k{i}-{tag}@example.org"
        async with (
            gate,
            http.post(
                f"{reg}/api/registration/events/{slug}/registrations",
                json={
                    "category": "visitor",
                    "name": f"Kill Test {i}",
                    "email": email,
                    "language": "vi",
                    "party_size": 1,
                },
            ) as r,
        ):
            assert r.status == 201, await r.text()
            body = await r.json()
        return {"id": body["ticket"]["id"], "qr_text": body["ticket"]["qr_text"], "email": email}

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _scan(
    http: aiohttp.ClientSession, chk: str, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A phone's scan, retried with the same id until it is answered (its offline queue)."""
    while True:
        try:
            async with http.post(
                f"{chk}/api/checkin/scans", json=body, headers={"Authorization": token}
            ) as r:
                if r.status == 200:
                    answer: dict[str, Any] = await r.json()
                    return answer
                assert r.status in (502, 503, 504), (r.status, await r.text())
        except (aiohttp.ClientConnectionError, TimeoutError):
            pass
        await asyncio.sleep(0.2)


async def _counts(
    http: aiohttp.ClientSession, chk: str, admin: dict[str, str], slug: str
) -> dict[str, Any]:
    async with http.get(f"{chk}/api/checkin/events/{slug}/counts", headers=admin) as r:
        assert r.status == 200, await r.text()
        counts: dict[str, Any] = await r.json()
        return counts
