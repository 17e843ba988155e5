"""What every consuming service's own read model of civic events offers its operators.

Checkin, stamprally and notify each keep an ``events`` table in their own schema, fed by
``registration.event.published``. Listing it (for organizers) checks the pipeline end to
end; the query reads only the columns all three share, in the service's own schema.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from shared.auth import organizer_from
from shared.http import json_response
from shared.keys import KeyCache
from shared.runtime import RUNTIME, Runtime

KEYS = "keys"


class KnownEvent(BaseModel):
    slug: str
    title: dict[str, str]
    starts_at: str
    ends_at: str
    revision: int


class KnownEvents(BaseModel):
    items: list[KnownEvent]


def keys_of(rt: Runtime) -> KeyCache:
    """The service's copy of the public keys (made on first use)."""
    keys = rt.state.get(KEYS)
    if not isinstance(keys, KeyCache):
        keys = rt.state[KEYS] = KeyCache(rt.pool)
    return keys


async def known_events(request: web.Request) -> web.StreamResponse:
    rt = request.app[RUNTIME]
    org = await organizer_from(request, keys_of(rt))
    rows = await rt.pool.fetch(
        "SELECT slug, title, starts_at, ends_at, revision FROM events ORDER BY starts_at, slug"
    )
    items: list[dict[str, Any]] = [
        {
            "slug": r["slug"],
            "title": r["title"],
            "starts_at": r["starts_at"].isoformat(),
            "ends_at": r["ends_at"].isoformat(),
            "revision": r["revision"],
        }
        for r in rows
        if org.role == "admin" or r["slug"] in org.events
    ]
    return json_response({"items": items})
