"""Registration and checkin (and, for the stamp rally's modes, stamprally) on ONE origin,
as ``tomoni up`` composes them: the scanner page calls ``/api/registration/devices/pair``,
``/api/checkin/…`` and ``/api/stamprally/…`` on its own host.

The port is chosen first so that registration's ``public_url`` (and so the organizer's
pairing link) names the real test server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.registration.app import create_app as registration_app
from services.registration.settings import RegistrationSettings
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings
from shared.compose import compose
from shared.embedded import free_port
from shared.openapi import Handler
from shared.testing import wait_until
from tests.integration.regfixtures import ADMIN, new_slug

REG = "/api/registration"
CHK = "/api/checkin"
RALLY = "/api/stamprally"
BUS_TIMEOUT = 15


@dataclass
class Stack:
    client: TestClient[web.Request, web.Application]
    db: asyncpg.Pool
    admin: dict[str, str]
    # Every path the server was asked for, in order: shows what a phone "offline" sent.
    hits: list[str]
    # Whether stamprally runs too (running_stack(..., stamprally=True)).
    stamprally: bool = False

    @property
    def base(self) -> str:
        return str(self.client.make_url("/")).rstrip("/")

    async def post(self, path: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        r = await self.client.post(path, json=body, **kw)
        data: dict[str, Any] = await r.json()
        assert r.status in (200, 201), (path, r.status, data)
        return data

    async def event(
        self, title_ja: str = "多文化フェスタ", title_en: str = "Multicultural Fair"
    ) -> str:
        """A public event with one category ("visitor") open for registration."""
        slug = new_slug("scan")
        start = datetime.now(UTC) + timedelta(days=7)
        await self.post(
            f"{REG}/events",
            {
                "slug": slug,
                "kind": "fair",
                "title": {"ja": title_ja, "en": title_en},
                "venue": {"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=6)).isoformat(),
                "categories": [
                    {
                        "code": "visitor",
                        "title": {"ja": "来場者", "en": "Visitor", "vi": "Khách tham quan"},
                        "capacity": 100,
                        "max_party_size": 5,
                    }
                ],
            },
            headers=self.admin,
        )
        await self.known("SELECT true FROM checkin.events WHERE slug = $1", slug)
        return slug

    async def ticket(self, slug: str, name: str, **extra: Any) -> dict[str, Any]:
        """Register someone; return the ticket once checkin knows it (with its details)."""
        body = {
            "category": "visitor",
            "name": name,
            "email": f"{uuid.uuid4().hex[:12]}@example.org",
            "language": "vi",
            "party_size": 1,
            **extra,
        }
        made = await self.post(f"{REG}/events/{slug}/registrations", body)
        ticket: dict[str, Any] = made["ticket"]
        await self.known(
            "SELECT true FROM checkin.tickets WHERE id = $1 AND party_size IS NOT NULL",
            uuid.UUID(ticket["id"]),
        )
        return ticket

    async def pairing(self, slug: str, place: str, role: str = "gate") -> dict[str, Any]:
        """An organizer's pairing for a gate (or a booth, or the prize desk):
        {device_id, pairing_code, pairing_url, …}."""
        return await self.post(
            f"{REG}/events/{slug}/devices",
            {"role": role, "place": place, "label": f"{place} {role}"},
            headers=self.admin,
        )

    async def rally(
        self,
        slug: str,
        booths: dict[str, tuple[str, str]],
        prizes: dict[str, tuple[str, str]],
        min_stamps: int = 2,
        stock: int = 5,
    ) -> dict[str, Any]:
        """The event's stamp rally, set up by the organizer once stamprally knows the
        event: ``booths`` and ``prizes`` map codes to (ja, en) names."""
        await self.known("SELECT true FROM stamprally.events WHERE slug = $1", slug)
        return await self.post(
            f"{RALLY}/events/{slug}/rally",
            {
                "title": {"ja": "スタンプラリー", "en": "Stamp rally"},
                "min_stamps": min_stamps,
                "booths": [
                    {"code": code, "name": {"ja": ja, "en": en}, "kind": "country"}
                    for code, (ja, en) in booths.items()
                ],
                "prizes": [
                    {"code": code, "name": {"ja": ja, "en": en}, "stock": stock}
                    for code, (ja, en) in prizes.items()
                ],
            },
            headers=self.admin,
        )

    async def rally_knows(
        self, *, device_id: str | None = None, ticket_id: str | None = None
    ) -> None:
        """Wait until stamprally has heard of a device's pairing or a ticket over the bus."""
        if device_id is not None:
            await self.known(
                "SELECT true FROM stamprally.devices WHERE id = $1", uuid.UUID(device_id)
            )
        if ticket_id is not None:
            await self.known(
                "SELECT true FROM stamprally.tickets WHERE id = $1 AND display_name IS NOT NULL",
                uuid.UUID(ticket_id),
            )

    async def known(self, sql: str, *args: Any) -> Any:
        return await wait_until(
            lambda: self.db.fetchval(sql, *args), timeout=BUS_TIMEOUT, message=sql
        )

    async def device_known(self, device_id: str) -> None:
        await self.known("SELECT true FROM checkin.devices WHERE id = $1", uuid.UUID(device_id))

    async def keys_published(self) -> None:
        async def keys() -> bool:
            r = await self.client.get(f"{CHK}/keys")
            return r.status == 200 and bool((await r.json())["keys"])

        await wait_until(keys, timeout=BUS_TIMEOUT, message="checkin's copy of the keys")
        if self.stamprally:
            await self.known("SELECT true FROM stamprally.public_keys LIMIT 1")


@asynccontextmanager
async def running_stack(
    make_settings: Any, database_url: str, tmp: Path, *, stamprally: bool = False
) -> AsyncIterator[Stack]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    registration = registration_app(
        make_settings(
            RegistrationSettings,
            data_dir=tmp,
            admin_email=ADMIN[0],
            admin_password=ADMIN[1],
            rate_limit=False,
            db_pool_max=10,
            public_url=public,
        )
    )
    checkin = checkin_app(make_settings(CheckinSettings, rate_limit=False, public_url=public))
    apps = [registration, checkin]
    if stamprally:
        apps.append(
            stamprally_app(make_settings(StamprallySettings, rate_limit=False, public_url=public))
        )
    root = compose(apps, max_body_bytes=1024 * 1024)
    hits: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        hits.append(request.path)
        return await handler(request)

    root.middlewares.append(record)
    client = TestClient(TestServer(root, host="127.0.0.1", port=port))
    await client.start_server()
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        r = await client.post(f"{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
        stack = Stack(client=client, db=db, admin=admin, hits=hits, stamprally=stamprally)
        await stack.keys_published()
        yield stack
    finally:
        await db.close()
        await client.close()
