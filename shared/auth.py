"""Organizers in every service: registration signs an organizer's API token (``O1.``,
see ``shared/security.py``) with its role and events; any service checks it with its
copy of the public keys, without asking registration.

A token is valid until it expires (12 h); logging out ends it in registration at once
and elsewhere at expiry — the price of services that keep working alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from shared.errors import Forbidden, Unauthorized
from shared.keys import KeyCache
from shared.security import InvalidTicket, verify_claims


@dataclass(frozen=True)
class OrganizerClaims:
    id: str
    role: str
    events: tuple[str, ...]

    def require(self, slug: str) -> None:
        if not (self.role == "admin" or slug in self.events):
            raise Forbidden()


async def organizer_from(request: web.Request, keys: KeyCache) -> OrganizerClaims:
    """The organizer of an API request (``Authorization: Bearer O1.…``)."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        raise Unauthorized()
    return await organizer_of_token(auth[7:].strip(), keys)


async def organizer_of_token(token: str, keys: KeyCache) -> OrganizerClaims:
    """The organizer a signed token names (the API's bearer token, or the console's
    session cookie, which holds the same kind of token)."""
    try:
        claims = verify_claims(token, "organizer", await keys.get())
    except InvalidTicket:
        raise Unauthorized() from None
    events = claims.get("ev", [])
    return OrganizerClaims(
        id=str(claims.get("o")),
        role=str(claims.get("r")),
        events=tuple(str(e) for e in events) if isinstance(events, list) else (),
    )
