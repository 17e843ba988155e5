"""Public keys in every service: a read model fed by ``registration.keys.published``,
and a small cache in front of it so verifying a scan costs no query.

Each replica reads the table (not only the one whose consumer stored the message), so
every replica learns of a rotation within ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
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
    """The public keys, read again at most every ``ttl`` seconds: by one request, the
    others in flight waiting for its read (not each reading them at once)."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = 5.0) -> None:
        self.pool = pool
        self.ttl = ttl
        self._keys: dict[bytes, Ed25519PublicKey] = {}
        self._jwks: list[dict[str, str]] = []
        self._rows: list[tuple[str, str]] = []
        self._at = 0.0
        self._reading = asyncio.Lock()

    async def get(self) -> dict[bytes, Ed25519PublicKey]:
        await self._refresh()
        return self._keys

    async def jwks(self) -> list[dict[str, str]]:
        await self._refresh()
        return self._jwks

    def _fresh(self) -> bool:
        return bool(self._keys) and time.monotonic() - self._at < self.ttl

    async def _refresh(self) -> None:
        if self._fresh():
            return
        async with self._reading:
            if self._fresh():
                return  # read by the request this one waited for
            rows = [
                (r["kid"], r["public_key"])
                for r in await self.pool.fetch(
                    "SELECT kid, public_key FROM public_keys ORDER BY kid"
                )
            ]
            if rows != self._rows or not self._keys:  # the same keys keep their objects
                self._keys = {b64url_decode(k): public_key_from_raw(pk) for k, pk in rows}
                self._jwks = [{"kid": k, "alg": "Ed25519", "public_key": pk} for k, pk in rows]
                self._rows = rows
            self._at = time.monotonic()
