"""Fixtures the integration modules share: a pool on the module's database, and an
admin's API token from the module's running registration service (its ``reg`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.integration.regfixtures import ADMIN


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def admin(reg: TestClient) -> dict[str, str]:
    r = await reg.post(
        "/api/registration/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
    )
    assert r.status == 200
    return {"Authorization": f"Bearer {(await r.json())['token']}"}
