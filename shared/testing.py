"""Helpers for the test suite: the servers it runs against, fresh databases and bus
namespaces, and ``wait_until`` (poll with a deadline; never sleep and hope)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from shared.embedded import EmbeddedNats, EmbeddedPostgres
from shared.ids import uuid7


async def wait_until(
    predicate: Callable[[], Awaitable[Any] | Any],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        result = predicate()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        last = result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {message} (last: {last!r})"
            )
        await asyncio.sleep(interval)


@dataclass
class Servers:
    """PostgreSQL and NATS for one test session: embedded ones started from the wheels,
    or the servers named by ``TOMONI_TEST_DATABASE_URL`` / ``TOMONI_TEST_NATS_URL``."""

    admin_url: str
    nats_url: str
    pg: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tomoni-test-")))

    @classmethod
    def start(cls) -> Servers:
        root = Path(tempfile.mkdtemp(prefix="tomoni-test-"))
        admin = os.environ.get("TOMONI_TEST_DATABASE_URL")
        nats_url = os.environ.get("TOMONI_TEST_NATS_URL")
        pg = nats = None
        if not admin:
            pg = EmbeddedPostgres(root / "postgres")
            pg.start()
            admin = pg.admin_url
        if not nats_url:
            nats = EmbeddedNats(root / "nats")
            nats_url = nats.start()
        return cls(admin_url=admin, nats_url=nats_url, pg=pg, nats=nats, root=root)

    def stop(self) -> None:
        if self.nats:
            self.nats.stop()
        if self.pg:
            self.pg.stop()

    def database_url(self, name: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    async def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid7().hex[-12:]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.database_url(name)

    async def drop_database(self, url: str) -> None:
        name = url.rpartition("/")[2]
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def unique_namespace(prefix: str = "t") -> str:
    return f"{prefix}{uuid7().hex[-10:]}"
