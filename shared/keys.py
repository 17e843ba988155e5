"""Public keys in every service: a read model fed by ``registration.keys.published``,
and a small cache in front of it so verifying a scan costs no query.

Each replica reads the table (not only the one whose consumer stored the message), so
every replica learns of a rotation within ``ttl`` seconds.
"""

from __future__ import annotations

import time

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.contracts.registration import KeysPublished
from shared.events import Envelope
from shared.runtime import ConsumerBinding
from shared.security import b64url_decode, public_key_from_raw


async def on_keys_published(
    conn: asyncpg.Connection, envelope: Envelope, payload: KeysPublished
) -> None:
    held = await conn.fetchval("SELECT as_of FROM public_keys_version FOR UPDATE")
    if held is not None and held >= payload.as_of:
        return  # an older set arriving late
    await conn.execute(
        "INSERT INTO public_keys_version (one, as_of) VALUES (true, $1)"
        " ON CONFLICT (one) DO UPDATE SET as_of = EXCLUDED.as_of",
        payload.as_of,
    )
    await conn.execute("DELETE FROM public_keys")
    await conn.executemany(
        "INSERT INTO public_keys (kid, public_key, as_of) VALUES ($1, $2, $3)",
        [(k.kid, k.public_key, payload.as_of) for k in payload.keys],
    )


KEYS_CONSUMER = ConsumerBinding("registration", "keys.published", on_keys_published)


class KeyCache:
    def __init__(self, pool: asyncpg.Pool, ttl: float = 5.0) -> None:
        self.pool = pool
        self.ttl = ttl
        self._keys: dict[bytes, Ed25519PublicKey] = {}
        self._jwks: list[dict[str, str]] = []
        self._at = 0.0

    async def get(self) -> dict[bytes, Ed25519PublicKey]:
        await self._refresh()
        return self._keys

    async def jwks(self) -> list[dict[str, str]]:
        await self._refresh()
        return self._jwks

    async def _refresh(self) -> None:
        if time.monotonic() - self._at < self.ttl and self._keys:
            return
        rows = await self.pool.fetch("SELECT kid, public_key FROM public_keys ORDER BY kid")
        self._keys = {b64url_decode(r["kid"]): public_key_from_raw(r["public_key"]) for r in rows}
        self._jwks = [
            {"kid": r["kid"], "alg": "Ed25519", "public_key": r["public_key"]} for r in rows
        ]
        self._at = time.monotonic()
