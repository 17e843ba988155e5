"""Fixtures: one PostgreSQL and one NATS for the whole session (embedded unless
TOMONI_TEST_DATABASE_URL / TOMONI_TEST_NATS_URL are set); a fresh database and a fresh
bus namespace per test module, so modules never see each other's data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from shared.config import TomoniSettings, load_settings
from shared.testing import Servers, unique_namespace


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    s = Servers.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
async def database_url(servers: Servers) -> AsyncIterator[str]:
    url = await servers.create_database()
    yield url
    await servers.drop_database(url)


@pytest.fixture(scope="module")
def namespace() -> str:
    return unique_namespace()


@pytest.fixture(scope="module")
def make_settings(
    database_url: str,
    servers: Servers,
    namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Any]:
    """Settings pointing at this module's database and namespace, with fast timings."""
    data_dir = tmp_path_factory.mktemp("data")

    def make(cls: type[TomoniSettings] = TomoniSettings, **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "database_url": database_url,
            "nats_url": servers.nats_url,
            "bus_namespace": namespace,
            "demo": False,
            "outbox_poll_seconds": 0.2,
            "relay_lock_retry_seconds": 0.2,
            "consumer_ack_wait_seconds": 5.0,
            "db_pool_max": 8,
            # Keys and other files of this module's services: never the checkout's .tomoni.
            "data_dir": data_dir,
        }
        values.update(overrides)
        return load_settings(cls, **values)

    return make


@pytest.fixture
async def nc(servers: Servers) -> AsyncIterator[NATS]:
    client = await nats.connect(
        servers.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    yield client
    await client.close()
