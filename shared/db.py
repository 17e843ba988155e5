"""PostgreSQL: one asyncpg pool per service, bound to the service's own schema, and the
migrations runner.

Each service's pool sets ``search_path`` to its schema, so its SQL names its own tables
unqualified and cannot reach another service's by accident.

Migrations are ``NNNN_name.sql`` files applied in order, each in its own transaction,
recorded in ``<schema>.schema_migrations`` with a checksum. A session-level advisory lock
keyed by the schema makes two replicas starting at once safe: the second waits, then finds
nothing left to do. An applied file whose checksum changed stops start-up: migrations are
append-only.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

logger = logging.getLogger(__name__)

_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _check_schema(schema: str) -> str:
    if not _SCHEMA.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    return schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    import json

    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections are not reset with a query (asyncpg's default costs a round
    trip per use: ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``). The rule
    that makes this safe: no session state on pooled connections — ``SET LOCAL`` only,
    advisory locks released in the same block, LISTEN only on dedicated connections."""


async def create_pool(
    dsn: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 16,
    application_name: str = "tomoni",
) -> asyncpg.Pool:
    """A pool whose connections live in ``schema`` (then ``public``), with JSON codecs."""
    _check_schema(schema)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": f"{schema},public", "application_name": application_name},
        command_timeout=30,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One connection, one transaction: committed when the block ends, rolled back on error."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


# What a background loop (relay, maintenance, jobs) treats as "the database is away,
# try again": connection failures, server errors, and a pooled connection that
# PostgreSQL's shutdown message reached between two queries (asyncpg leaves it in an
# error state until its socket closes; using it raises InternalClientError).
DB_LOST: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        m = _MIGRATION.match(path.name)
        if not m:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a number in {directory}")
    return found


class MigrationError(RuntimeError):
    pass


async def apply_migrations(
    dsn_or_conn: str | asyncpg.Connection,
    schema: str,
    directory: Path,
    *,
    table: str = "schema_migrations",
) -> list[str]:
    """Apply what is missing; return the names applied now (empty when up to date).

    ``table`` names the record: the shared bus tables are tracked in ``infra_migrations``
    so their numbering never collides with the service's own.
    """
    _check_schema(schema)
    _check_schema(table)
    migrations = load_migrations(directory)
    own = isinstance(dsn_or_conn, str)
    conn: asyncpg.Connection = (
        await asyncpg.connect(dsn_or_conn) if isinstance(dsn_or_conn, str) else dsn_or_conn
    )
    applied_now: list[str] = []
    key = advisory_key(f"tomoni.migrate.{schema}")
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", key)
        try:
            # Only when missing: CREATE SCHEMA (even IF NOT EXISTS) needs the CREATE right
            # on the database, which a deployment's per-service role does not have (its
            # schema is made for it, deploy/k8s/base/postgres-init.sql).
            if not await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", schema):
                await conn.execute(f"CREATE SCHEMA {schema}")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {schema}.{table} (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await conn.fetch(f"SELECT version, name, checksum FROM {schema}.{table}")
            done = {r["version"]: r for r in rows}
            for m in migrations:
                if m.version in done:
                    if done[m.version]["checksum"] != m.checksum:
                        raise MigrationError(
                            f"{schema}: applied migration {m.name} was edited;"
                            " add a new one instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}, public")
                    await conn.execute(m.sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.{table} (version, name, checksum)"
                        " VALUES ($1, $2, $3)",
                        m.version,
                        m.name,
                        m.checksum,
                    )
                applied_now.append(m.name)
                logger.info("migration applied", extra={"schema": schema, "migration": m.name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
    finally:
        if own:
            await conn.close()
    return applied_now


async def pending_migrations(
    pool: asyncpg.Pool, schema: str, directory: Path, *, table: str = "schema_migrations"
) -> list[str]:
    """Names of migrations not yet applied (readiness: must be empty)."""
    _check_schema(schema)
    _check_schema(table)
    wanted = {m.version: m.name for m in load_migrations(directory)}
    try:
        rows = await pool.fetch(f"SELECT version FROM {schema}.{table}")
    except asyncpg.UndefinedTableError:
        return sorted(wanted.values())
    have = {r["version"] for r in rows}
    return [name for v, name in sorted(wanted.items()) if v not in have]


def record_to_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(record) if record is not None else None
