"""The notify process killed (SIGKILL) at random moments while registrations pour in:
every registrant still gets the ticket email; redeliveries and a replay of registration's
ledger add none. The one duplicate a kill can cause is a message the SMTP server accepted
just before the kill, before it was marked sent: it is counted (at most one per kill) and
carries the same Message-ID, so mail clients fold it.

The short run is in ``make test``; the issue's full run (1,000 registrations, 100 kills)
is ``make soak``."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from shared import outbox
from shared.testing import Servers, wait_until
from tests.e2e.procs import free_port, spawn, stop
from tests.integration.mailfixtures import Mailbox, SmtpServer
from tests.integration.regfixtures import Category, make_event, person, running_registration

REG = "/api/registration"


@pytest.fixture(scope="module")
def box() -> Mailbox:
    return Mailbox()


@pytest.fixture(scope="module")
def smtp(box: Mailbox) -> Any:
    server = SmtpServer(box)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


class Notify:
    """``tomoni serve notify`` as a process that can be killed and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: Any = None
        self.kills = 0

    def start(self) -> None:
        port = free_port()
        self.proc = spawn(["serve", "notify", "--port", str(port)], self.env, self.log)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert stop(self.proc, signal.SIGTERM) == 0


async def run(
    *,
    reg: TestClient,
    box: Mailbox,
    smtp: SmtpServer,
    servers: Servers,
    database_url: str,
    namespace: str,
    tmp_path: Path,
    registrations: int,
    kills: int,
    per_second: float,
) -> dict[str, Any]:
    seed = int(os.environ.get("TOMONI_TEST_SEED", time.time()))
    rng = random.Random(seed)
    slug = await make_event(
        reg, Category(code="visitor", title={"ja": "来場者"}, capacity=registrations)
    )
    env = {
        "TOMONI_DATABASE_URL": database_url,
        "TOMONI_NATS_URL": servers.nats_url,
        "TOMONI_BUS_NAMESPACE": namespace,
        "TOMONI_SMTP_URL": smtp.url,
        "TOMONI_DATA_DIR": str(tmp_path / "notify-data"),
        "TOMONI_NOTIFY_POLL_SECONDS": "0.2",
        "TOMONI_CONSUMER_ACK_WAIT_SECONDS": "2",
        "TOMONI_LOG_LEVEL": "WARNING",
    }
    notify = Notify(env, tmp_path / "notify.log")
    notify.start()
    tag = f"{seed:x}"
    addresses = [f"k{i}-{tag}@example.org" for i in range(registrations)]
    since = datetime.now(UTC)
    done = asyncio.Event()

    async def register_all() -> None:
        for i, address in enumerate(addresses):
            r = await reg.post(
                f"{REG}/events/{slug}/registrations",
                json=person(i, email=address, language=rng.choice(["ja", "en", "vi", "zh"])),
            )
            assert r.status == 201, await r.text()
            await asyncio.sleep(1 / per_second)
        done.set()

    async def keep_killing() -> None:
        while notify.kills < kills:
            await asyncio.sleep(rng.uniform(0.2, 1.2))
            notify.kill()
            notify.start()

    try:
        await asyncio.gather(register_all(), keep_killing())
        wanted = set(addresses)

        async def everyone() -> bool:
            return wanted <= {m["To"] for m in box.snapshot()}

        await wait_until(everyone, timeout=120, interval=0.5, message="every ticket email")

        # Replay registration's ledger with notify's inbox emptied: only the unique
        # claims stand between the replay and a second ticket for everyone.
        before = len(box.snapshot())
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("DELETE FROM notify.inbox")
            pool = await asyncpg.create_pool(
                database_url, server_settings={"search_path": "registration"}
            )
            try:
                js_nc = reg.server.app  # registration's own NATS connection publishes it
                from shared.runtime import RUNTIME

                nc = js_nc[RUNTIME].nc
                replayed = await outbox.replay(
                    pool=pool, nc=nc, since=since, replay_tag=f"kills-{tag}"
                )
            finally:
                await pool.close()
            assert replayed >= registrations

            async def replay_consumed() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM notify.inbox"
                    " WHERE consumer = 'notify__registration__registration_confirmed'"
                )
                return int(n) >= registrations

            await wait_until(replay_consumed, timeout=60, message="notify consumed the replay")
            await asyncio.sleep(2.0)
            after = len(box.snapshot())
            rows = await conn.fetch(
                "SELECT recipient, status FROM notify.notifications WHERE event = $1", slug
            )
        finally:
            await conn.close()
    finally:
        notify.close()

    mine = [m for m in box.snapshot() if m["To"] in wanted]
    ids_per_address: dict[str, set[str]] = {}
    for m in mine:
        ids_per_address.setdefault(m["To"], set()).add(m["Message-ID"])
    copies = Counter(m["Message-ID"] for m in mine)
    duplicates = sum(n - 1 for n in copies.values())
    return {
        "seed": seed,
        "kills": notify.kills,
        "registrations": registrations,
        "emails": len(mine),
        "duplicates": duplicates,
        "ids_per_address": ids_per_address,
        "after_replay_new": after - before,
        "rows": rows,
    }


def check(result: dict[str, Any]) -> None:
    print(
        f"\nnotify kills: seed={result['seed']} kills={result['kills']}"
        f" registrations={result['registrations']} emails={result['emails']}"
        f" duplicates={result['duplicates']} new_after_replay={result['after_replay_new']}"
    )
    assert len(result["ids_per_address"]) == result["registrations"], "someone got no ticket"
    # One message per registrant (one Message-ID); its copies only from kills.
    assert all(len(ids) == 1 for ids in result["ids_per_address"].values())
    assert result["duplicates"] <= result["kills"]
    assert result["after_replay_new"] == 0
    assert len(result["rows"]) == result["registrations"]
    assert {r["status"] for r in result["rows"]} == {"sent"}


async def test_notify_killed_ten_times_during_200_registrations(
    reg: TestClient,
    box: Mailbox,
    smtp: SmtpServer,
    servers: Servers,
    database_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    check(
        await run(
            reg=reg,
            box=box,
            smtp=smtp,
            servers=servers,
            database_url=database_url,
            namespace=namespace,
            tmp_path=tmp_path,
            registrations=200,
            kills=10,
            per_second=40,
        )
    )


@pytest.mark.soak
async def test_notify_killed_100_times_during_1000_registrations(
    reg: TestClient,
    box: Mailbox,
    smtp: SmtpServer,
    servers: Servers,
    database_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    check(
        await run(
            reg=reg,
            box=box,
            smtp=smtp,
            servers=servers,
            database_url=database_url,
            namespace=namespace,
            tmp_path=tmp_path,
            registrations=1000,
            kills=100,
            per_second=12,
        )
    )
