"""What the service benchmarks set up the same way: the environment of ``tomoni serve``
processes against embedded servers, the organizer's login, a test event and paired
volunteer phones."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

ADMIN = ("bench@tomoni.test", "bench password 123")


def service_env(tmp: Path, dsn: str, nats_url: str, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOMONI_")},
        "TOMONI_DATABASE_URL": dsn,
        "TOMONI_NATS_URL": nats_url,
        "TOMONI_RATE_LIMIT": "0",
        "TOMONI_DATA_DIR": str(tmp / "data"),
        "TOMONI_ADMIN_EMAIL": ADMIN[0],
        "TOMONI_ADMIN_PASSWORD": ADMIN[1],
        "TOMONI_LOG_LEVEL": "WARNING",
        "TOMONI_HTTP_HOST": "127.0.0.1",
        "TOMONI_DB_POOL_MAX": "16",
        **extra,
    }


async def admin_headers(http: aiohttp.ClientSession, reg: str) -> dict[str, str]:
    async with http.post(
        f"{reg}/api/registration/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
    ) as r:
        return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def create_event(
    http: aiohttp.ClientSession,
    reg: str,
    admin: dict[str, str],
    slug: str,
    capacity: int,
    *,
    starts_in: timedelta = timedelta(days=1),
    title: dict[str, str] | None = None,
) -> None:
    start = datetime.now(UTC) + starts_in
    async with http.post(
        f"{reg}/api/registration/events",
        headers=admin,
        json={
            "slug": slug,
            "kind": "fair",
            "title": title or {"ja": "ベンチ"},
            "venue": {"ja": "会場"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=6)).isoformat(),
            "categories": [{"code": "visitor", "title": {"ja": "来場者"}, "capacity": capacity}],
        },
    ) as r:
        assert r.status == 201, await r.text()


async def pair(
    http: aiohttp.ClientSession, reg: str, admin: dict[str, str], slug: str, role: str, place: str
) -> str:
    """A paired phone's bearer header value."""
    async with http.post(
        f"{reg}/api/registration/events/{slug}/devices",
        headers=admin,
        json={"role": role, "place": place},
    ) as r:
        made = await r.json()
    async with http.post(
        f"{reg}/api/registration/devices/pair", json={"pairing_code": made["pairing_code"]}
    ) as r:
        return f"Bearer {(await r.json())['device_token']}"
