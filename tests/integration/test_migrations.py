"""Migrations: ordered, recorded, safe when replicas start together, append-only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from shared import db
from shared.runtime import INFRA_MIGRATIONS


def _write(dirpath: Path, name: str, sql: str) -> None:
    (dirpath / name).write_text(sql)


async def test_replicas_starting_together_apply_each_migration_once(
    database_url: str, tmp_path: Path
) -> None:
    # The second migration fails if it runs twice (duplicate row on a primary key).
    _write(tmp_path, "0001_init.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    _write(tmp_path, "0002_seed.sql", "INSERT INTO things VALUES (1);")
    results = await asyncio.gather(
        *(db.apply_migrations(database_url, "mig_race", tmp_path) for _ in range(8))
    )
    applied = [name for r in results for name in r]
    assert sorted(applied) == ["0001_init.sql", "0002_seed.sql"]
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM mig_race.schema_migrations") == 2
        assert await conn.fetchval("SELECT count(*) FROM mig_race.things") == 1
    finally:
        await conn.close()


async def test_rerunning_migrations_is_a_no_op(database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_init.sql", "CREATE TABLE t (id int);")
    assert await db.apply_migrations(database_url, "mig_rerun", tmp_path) == ["0001_init.sql"]
    assert await db.apply_migrations(database_url, "mig_rerun", tmp_path) == []
    _write(tmp_path, "0002_more.sql", "ALTER TABLE t ADD COLUMN name text;")
    assert await db.apply_migrations(database_url, "mig_rerun", tmp_path) == ["0002_more.sql"]


async def test_an_edited_applied_migration_stops_start_up(
    database_url: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_init.sql", "CREATE TABLE t (id int);")
    await db.apply_migrations(database_url, "mig_edit", tmp_path)
    _write(tmp_path, "0001_init.sql", "CREATE TABLE t (id bigint);")
    with pytest.raises(db.MigrationError, match="was edited"):
        await db.apply_migrations(database_url, "mig_edit", tmp_path)


async def test_a_failing_migration_leaves_nothing_half_applied(
    database_url: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_bad.sql", "CREATE TABLE ok (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await db.apply_migrations(database_url, "mig_bad", tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('mig_bad.ok')") is None
        assert await conn.fetchval("SELECT count(*) FROM mig_bad.schema_migrations") == 0
    finally:
        await conn.close()


async def test_badly_named_migration_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "init.sql", "SELECT 1;")
    with pytest.raises(ValueError, match=r"NNNN_name\.sql"):
        db.load_migrations(tmp_path)


async def test_all_services_migrate_concurrently_twice(database_url: str) -> None:
    from shared.cli import SERVICE_NAMES, _service_module

    definitions = [_service_module(n).DEFINITION for n in SERVICE_NAMES]

    async def one(definition: object) -> None:
        schema = definition.schema  # type: ignore[attr-defined]
        await db.apply_migrations(database_url, schema, INFRA_MIGRATIONS, table="infra_migrations")
        await db.apply_migrations(database_url, schema, definition.migrations)  # type: ignore[attr-defined]

    await asyncio.gather(*(one(d) for d in definitions * 2))
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        for d in definitions:
            assert await db.pending_migrations(pool, d.schema, d.migrations) == []
            assert (
                await db.pending_migrations(
                    pool, d.schema, INFRA_MIGRATIONS, table="infra_migrations"
                )
                == []
            )
    finally:
        await pool.close()
