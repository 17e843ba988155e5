"""Volunteer devices in every service: registration signs a device's token (``D1.``, see
``shared/security.py``) when a phone is paired, naming its event, role (gate, booth,
prize desk) and place; checkin and stamprally check it with their copy of the public keys.
Revocation is each service's own read model's to check (per scan)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from aiohttp import web

from shared.errors import Forbidden, Unauthorized
from shared.keys import KeyCache
from shared.security import InvalidTicket, verify_claims

# Tokens already verified (a scanner sends the same one with every scan): a signature
# check costs as much as the rest of a scan. Expiry is checked on every use; the cache
# only skips re-checking the same signature.
_verified: dict[str, tuple[Device, float]] = {}  # token → (device, expiry)


@dataclass(frozen=True)
class Device:
    id: uuid.UUID
    event: str
    role: str
    place: str


async def device_from(request: web.Request, keys: KeyCache, roles: Collection[str]) -> Device:
    """The scanning device from its bearer token: 401 without a genuine unexpired one,
    403 for a device of another kind."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        raise Unauthorized()
    token = auth[7:].strip()
    held = _verified.get(token)
    if held is None or held[1] < time.time():
        try:
            claims = verify_claims(token, "device", await keys.get())
            device = Device(
                uuid.UUID(str(claims["d"])), str(claims["e"]), str(claims["r"]), str(claims["p"])
            )
            held = (device, float(str(claims.get("x", 0))))
        except (InvalidTicket, KeyError, ValueError):
            raise Unauthorized() from None
        if len(_verified) >= 10_000:
            _verified.clear()
        _verified[token] = held
    if held[0].role not in roles:
        raise Forbidden(code="wrong_device_role")
    return held[0]
