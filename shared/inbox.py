"""Idempotent consumers: claim an event id in the same transaction as its effect."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

import asyncpg

WHO = f"{socket.gethostname()}:{os.getpid()}"


async def claim(conn: asyncpg.Connection, consumer: str, event_id: uuid.UUID) -> bool:
    """True the first time ``consumer`` sees ``event_id``; False if it was processed before.

    Must run inside the transaction that applies the effect. A concurrent claim of the same
    id blocks on the primary key until the first transaction ends, then returns False if
    that one committed.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("inbox.claim must run inside the effect's transaction")
    row = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id, claimed_by) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
        WHO,
    )
    return bool(row)


async def purge(pool: asyncpg.Pool, older_than: datetime) -> int:
    result = await pool.execute("DELETE FROM inbox WHERE processed_at < $1", older_than)
    return int(result.split()[-1])
