"""Notify's HTTP edge. So far one operator's view: the events this service has learned
from registration over the bus (its own read model), to check the pipeline end to end.
The capability's own routes come with its issue."""

from __future__ import annotations

from aiohttp import web

from services.notify import repository
from shared.auth import organizer_from
from shared.http import json_response
from shared.keys import KeyCache
from shared.runtime import RUNTIME

KEYS = "keys"


async def known_events(request: web.Request) -> web.StreamResponse:
    rt = request.app[RUNTIME]
    keys: KeyCache = rt.state.setdefault(KEYS, KeyCache(rt.pool))
    org = await organizer_from(request, keys)
    rows = await repository.known_events(rt.pool)
    return json_response(
        {
            "items": [
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
        }
    )
