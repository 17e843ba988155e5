"""Organizer accounts and their sessions: argon2 password hashes, bearer tokens for the
API, a session cookie plus CSRF token for the console. Roles: ``admin`` (every event) and
``organizer`` (the events assigned to them)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from shared.errors import Conflict, Forbidden, Unauthorized
from shared.ids import new_secret, uuid7
from shared.runtime import Runtime
from shared.security import (
    DUMMY_PASSWORD_HASH,
    digest,
    hash_password,
    sign_claims,
    verify_password,
)

logger = logging.getLogger(__name__)

SESSION_HOURS = 12


@dataclass(frozen=True)
class Organizer:
    id: uuid.UUID
    email: str
    role: str
    events: tuple[str, ...]
    csrf_token: str | None = None

    def may_manage(self, slug: str) -> bool:
        return self.role == "admin" or slug in self.events

    def require(self, slug: str) -> None:
        if not self.may_manage(slug):
            raise Forbidden()


async def ensure_admin(rt: Runtime) -> None:
    """Create the first organizer from TOMONI_ADMIN_EMAIL / TOMONI_ADMIN_PASSWORD if missing."""
    email, password = rt.settings.admin_email, rt.settings.admin_password
    if not email or not password:
        return
    hashed = await asyncio.to_thread(hash_password, password)
    await rt.pool.execute(
        "INSERT INTO organizers (id, email, password_hash, role) VALUES ($1, $2, $3, 'admin')"
        " ON CONFLICT (email) DO NOTHING",
        uuid7(),
        email.strip().lower(),
        hashed,
    )


async def create(
    rt: Runtime, email: str, password: str, events: list[str], role: str = "organizer"
) -> Organizer:
    hashed = await asyncio.to_thread(hash_password, password)
    oid = uuid7()
    try:
        await rt.pool.execute(
            "INSERT INTO organizers (id, email, password_hash, role, events)"
            " VALUES ($1, $2, $3, $4, $5)",
            oid,
            email.strip().lower(),
            hashed,
            role,
            events,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(code="organizer_exists") from None
    return Organizer(oid, email.strip().lower(), role, tuple(events))


async def login(
    rt: Runtime, email: str, password: str, kind: str
) -> tuple[str, datetime, Organizer]:
    """A new session token, its expiry and the organizer; Unauthorized otherwise. An
    unknown email costs the same argon2 verification as a wrong password."""
    row = await rt.pool.fetchrow("SELECT * FROM organizers WHERE email = $1", email.strip().lower())
    stored = row["password_hash"] if row else DUMMY_PASSWORD_HASH
    ok = await asyncio.to_thread(verify_password, stored, password)
    if row is None or not ok:
        raise Unauthorized(code="login_failed")
    csrf = new_secret(24) if kind == "console" else None
    expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
    # Signed (both the API's token and the console's session cookie), so checkin,
    # stamprally and notify can check it with the public keys: notify's Messages tab
    # reads the console's cookie. The session row still decides here (logout ends it).
    from services.registration.service import keyring

    token = sign_claims(
        keyring(rt).active,
        "organizer",
        {
            "o": str(row["id"]),
            "r": row["role"],
            "ev": list(row["events"]),
            "x": int(expires.timestamp()),
            "n": new_secret(8),
        },
    )
    await rt.pool.execute(
        "INSERT INTO sessions (token_hash, organizer_id, kind, csrf_token, expires_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        digest(token),
        row["id"],
        kind,
        csrf,
        expires,
    )
    return (
        token,
        expires,
        Organizer(row["id"], row["email"], row["role"], tuple(row["events"]), csrf),
    )


async def authenticate(rt: Runtime, token: str, kind: str) -> Organizer:
    row = await rt.pool.fetchrow(
        "SELECT o.*, s.csrf_token FROM sessions s JOIN organizers o ON o.id = s.organizer_id"
        " WHERE s.token_hash = $1 AND s.kind = $2 AND s.expires_at > now()",
        digest(token),
        kind,
    )
    if row is None:
        raise Unauthorized()
    return Organizer(row["id"], row["email"], row["role"], tuple(row["events"]), row["csrf_token"])


async def logout(rt: Runtime, token: str) -> None:
    await rt.pool.execute("DELETE FROM sessions WHERE token_hash = $1", digest(token))
