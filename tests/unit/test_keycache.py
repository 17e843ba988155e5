"""The public keys' cache (shared/keys.py) with a fake pool: when its seconds are up, one
read goes to the database and the requests in flight wait for it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from shared.keys import KeyCache
from shared.security import KeyRing, b64url, sign_ticket, verify_ticket


class FakePool:
    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows, self.reads = rows, 0

    async def fetch(self, _sql: str) -> list[dict[str, str]]:
        self.reads += 1
        await asyncio.sleep(0.02)  # a busy database
        return self.rows


async def test_a_crowd_of_scans_reads_the_keys_once_per_ttl(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path / "keys")
    key = ring.active
    raw = key.public.public_bytes_raw()
    pool = FakePool([{"kid": b64url(key.kid), "public_key": b64url(raw)}])
    cache = KeyCache(pool, ttl=0.05)  # type: ignore[arg-type]
    first = await asyncio.gather(*(cache.get() for _ in range(50)))
    assert pool.reads == 1 and all(k is first[0] for k in first)
    ticket = sign_ticket(key, uuid.uuid4(), "fair")
    assert verify_ticket(ticket, first[0]).is_for("fair")
    await asyncio.sleep(0.06)  # expired: read again, once, the same keys kept
    again: list[Any] = await asyncio.gather(*(cache.get() for _ in range(50)))
    assert pool.reads == 2 and all(k is first[0] for k in again)


async def test_no_keys_yet_is_never_cached(tmp_path: Path) -> None:
    pool = FakePool([])
    cache = KeyCache(pool, ttl=60)  # type: ignore[arg-type]
    assert await cache.get() == {}
    assert await cache.get() == {}
    assert pool.reads == 2  # a new service learns the keys as soon as they are stored
