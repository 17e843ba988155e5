"""The organizers' live stream (``GET /api/registration/events/{slug}/live``) with every
service running: a snapshot at once, then each number moves within a second of the
registration, scan, stamp or message that moved it; organizers only, of that event."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.notify.app import create_app as notify_app
from services.notify.settings import NotifySettings
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings
from shared.testing import wait_until
from tests.integration.mailfixtures import Mailbox, SmtpServer
from tests.integration.regfixtures import (
    ADMIN,
    Category,
    make_event,
    person,
    running_registration,
)

REG = "/api/registration"


@pytest.fixture(scope="module")
def smtp() -> Any:
    server = SmtpServer(Mailbox())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


@pytest.fixture(scope="module")
async def others(
    make_settings: Any, reg: TestClient, smtp: SmtpServer
) -> AsyncIterator[dict[str, TestClient]]:
    apps = {
        "checkin": checkin_app(make_settings(CheckinSettings, rate_limit=False)),
        "stamprally": stamprally_app(make_settings(StamprallySettings, rate_limit=False)),
        "notify": notify_app(
            make_settings(NotifySettings, smtp_url=smtp.url, notify_poll_seconds=0.2)
        ),
    }
    clients = {name: TestClient(TestServer(app)) for name, app in apps.items()}
    for c in clients.values():
        await c.start_server()
    yield clients
    for c in clients.values():
        await c.close()


class Board:
    """An open stream: its latest snapshot, read as the server sends them."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response
        self.latest: dict[str, Any] | None = None
        self.count = 0
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        event = ""
        async for raw in self.response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "snapshot":
                self.latest = json.loads(line[6:])
                self.count += 1

    async def until(self, check: Callable[[dict[str, Any]], bool], within: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < within:
            if self.latest is not None:
                try:
                    if check(self.latest):
                        return time.monotonic() - start
                except (KeyError, TypeError):
                    pass
            await asyncio.sleep(0.02)
        raise AssertionError(f"not within {within}s; last snapshot: {self.latest}")

    async def close(self) -> None:
        self.task.cancel()
        self.response.close()


async def test_every_number_moves_within_a_second_of_what_moved_it(
    reg: TestClient, others: dict[str, TestClient], db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await make_event(
        reg, Category(code="visitor", title={"ja": "来場者"}, capacity=50, max_party_size=4)
    )
    chk, sr = others["checkin"], others["stamprally"]
    for schema in ("checkin", "stamprally", "notify"):
        await wait_until(
            lambda s=schema: db.fetchval(f"SELECT true FROM {s}.events WHERE slug = $1", slug),
            timeout=20,
        )
    r = await sr.post(
        f"/api/stamprally/events/{slug}/rally",
        headers=admin,
        json={
            "title": {"en": "Rally"},
            "min_stamps": 1,
            "booths": [{"code": "vn", "name": {"en": "Vietnam"}, "kind": "country"}],
            "prizes": [{"code": "bag", "name": {"en": "Bag"}, "stock": 3}],
        },
    )
    assert r.status == 201
    devices = {}
    for role, place in (("gate", "east"), ("booth", "vn")):
        made = await (
            await reg.post(
                f"{REG}/events/{slug}/devices", headers=admin, json={"role": role, "place": place}
            )
        ).json()
        token = await (
            await reg.post(f"{REG}/devices/pair", json={"pairing_code": made["pairing_code"]})
        ).json()
        devices[role] = {"Authorization": f"Bearer {token['device_token']}"}
        for schema in ("checkin", "stamprally"):
            await wait_until(
                lambda s=schema, d=made["device_id"]: db.fetchval(
                    f"SELECT true FROM {s}.devices WHERE id = $1", uuid.UUID(d)
                ),
                timeout=20,
            )

    board = Board(await reg.get(f"{REG}/events/{slug}/live", headers=admin, timeout=None))
    try:
        await board.until(lambda s: s["registration"]["registered_people"] == 0, 1.0)
        first = board.latest
        assert first is not None and first["event"] == slug and first["at"]
        assert first["checkin"] is not None and first["stamprally"] is not None

        r = await reg.post(f"{REG}/events/{slug}/registrations", json=person(1, party_size=2))
        assert r.status == 201, await r.text()
        made = await r.json()
        await board.until(lambda s: s["registration"]["registered_people"] == 2, 1.0)
        assert board.latest["registration"]["languages"] == {"vi": 2}  # type: ignore[index]
        await board.until(lambda s: s["notify"]["sent"] == 1, 3.0)

        ticket = uuid.UUID(made["ticket"]["id"])
        for schema in ("checkin", "stamprally"):
            await wait_until(
                lambda s=schema: db.fetchval(f"SELECT true FROM {s}.tickets WHERE id = $1", ticket),
                timeout=20,
            )
        qr = made["ticket"]["qr_text"]
        await chk.post(
            "/api/checkin/scans",
            json={"client_scan_id": "a", "qr_text": qr, "direction": "in"},
            headers=devices["gate"],
        )
        await board.until(lambda s: s["checkin"]["admitted_people"] == 2, 1.0)
        checkin = board.latest["checkin"]  # type: ignore[index]
        assert sum(checkin["arrivals_by_5min"].values()) == 2
        assert checkin["by_gate"]["east"]["last_scan_at"] is not None
        await chk.post(
            "/api/checkin/scans",
            json={"client_scan_id": "b", "qr_text": qr, "direction": "out"},
            headers=devices["gate"],
        )
        await board.until(lambda s: s["checkin"]["inside_people"] == 0, 1.0)
        await sr.post(
            "/api/stamprally/stamps",
            json={"client_scan_id": "s", "qr_text": qr},
            headers=devices["booth"],
        )
        await board.until(lambda s: s["stamprally"]["stamps_by_booth"] == {"vn": 1}, 1.0)
        await board.until(lambda s: s["stamprally"]["completed"] == 1, 1.0)
    finally:
        await board.close()


async def test_only_organizers_of_the_event_open_its_stream(
    reg: TestClient, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    assert (await reg.get(f"{REG}/events/{slug}/live")).status == 401
    email = f"o-{uuid.uuid4().hex[:6]}@city.test"
    r = await reg.post(
        f"{REG}/organizers",
        headers=admin,
        json={"email": email, "password": "p" * 16, "events": []},
    )
    assert r.status == 201
    login = await (
        await reg.post(f"{REG}/auth/login", json={"email": email, "password": "p" * 16})
    ).json()
    other = {"Authorization": f"Bearer {login['token']}"}
    assert (await reg.get(f"{REG}/events/{slug}/live", headers=other)).status == 403
    assert (await reg.get(f"{REG}/events/nope/live", headers=admin)).status == 404
    assert ADMIN
