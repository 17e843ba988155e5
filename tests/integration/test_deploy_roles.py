"""deploy/'s PostgreSQL set-up (deploy/k8s/base/postgres-init.sql, also mounted by the
compose file) for real: each service migrates its own schema as its own role, and no
role can read another service's data."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from services.checkin.app import DEFINITION as CHECKIN
from services.notify.app import DEFINITION as NOTIFY
from services.registration.app import DEFINITION as REGISTRATION
from services.stamprally.app import DEFINITION as STAMPRALLY
from shared import db
from shared.runtime import INFRA_MIGRATIONS

INIT = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "postgres-init.sql"
DEFINITIONS = (REGISTRATION, CHECKIN, STAMPRALLY, NOTIFY)


def as_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture(scope="module")
async def roles(database_url: str) -> AsyncIterator[dict[str, str]]:
    """The init script run on this module's database, its roles renamed so that they are
    this module's own (roles belong to the whole server)."""
    suffix = uuid.uuid4().hex[:6]
    names = {d.name: f"{d.name}_{suffix}" for d in DEFINITIONS}
    sql = INIT.read_text()
    database = urlsplit(database_url).path.lstrip("/")
    sql = sql.replace("DATABASE tomoni", f'DATABASE "{database}"')
    for service, role in names.items():
        sql = re.sub(rf"(ROLE|AUTHORIZATION) {service}\b", rf"\1 {role}", sql)
        sql = re.sub(rf"(TO [^;]*)\b{service}\b", rf"\1{role}", sql)
        sql = sql.replace(f"PASSWORD '{service}'", f"PASSWORD '{role}'")
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(sql)
        yield names
    finally:
        for role in names.values():
            await admin.execute(f"DROP OWNED BY {role} CASCADE")
            await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_each_service_migrates_its_schema_as_its_own_role_and_reads_no_other(
    database_url: str, roles: dict[str, str]
) -> None:
    for d in DEFINITIONS:
        url = as_user(database_url, roles[d.name], roles[d.name])
        await db.apply_migrations(url, d.schema, INFRA_MIGRATIONS, table="infra_migrations")
        await db.apply_migrations(url, d.schema, d.migrations)
    checkin = await asyncpg.connect(as_user(database_url, roles["checkin"], roles["checkin"]))
    try:
        assert await checkin.fetchval("SELECT count(*) FROM checkin.tickets") == 0
        for table in ("registration.registrations", "notify.recipients", "stamprally.cards"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await checkin.fetchval(f"SELECT count(*) FROM {table}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await checkin.execute("CREATE SCHEMA elsewhere")
    finally:
        await checkin.close()
