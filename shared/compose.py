"""``tomoni up`` runs all four services in one process on one port: each service's own
application (built by its ``create_app``) is mounted as a sub-application that answers
the paths it owns (``/api/checkin/…``, ``/scan/…``), so its middlewares, app keys and
lifecycle stay its own.

aiohttp mounts a sub-application either under one path prefix, which it strips, or by a
rule (``add_domain``). A service owns several prefixes and its routes are absolute, so a
small rule that matches any of its prefixes is used with aiohttp's own
``MatchedSubAppResource``. ``Application._add_subapp`` is the registration step
``add_subapp``/``add_domain`` share; it is private, so this module is the one place that
touches it (pinned by aiohttp<4 in pyproject, and covered by the ``tomoni up`` tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRuleMatching, MatchedSubAppResource

from shared.http import json_response, new_app
from shared.runtime import DEFINITION, readiness


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class PathPrefixes(AbstractRuleMatching):
    """Paths under any of ``prefixes``, except those under a longer prefix another
    service owns (``/console/notify`` is notify's inside registration's ``/console``): the
    longest prefix wins, as in the deployment's proxy."""

    def __init__(self, prefixes: Sequence[str], excluded: Sequence[str] = ()) -> None:
        self.prefixes = tuple(p.rstrip("/") for p in prefixes)
        self.excluded = tuple(p.rstrip("/") for p in excluded)

    async def match(self, request: web.Request) -> bool:
        path = request.rel_url.path
        return any(_under(path, p) for p in self.prefixes) and not any(
            _under(path, x) for x in self.excluded
        )

    def get_info(self) -> dict[str, Any]:  # type: ignore[override]
        return {"prefixes": self.prefixes}

    @property
    def canonical(self) -> str:
        return self.prefixes[0]


SERVICES = web.AppKey("services", list)


def rules(owned: Mapping[Any, Sequence[str]]) -> dict[Any, PathPrefixes]:
    """Each service's rule from the prefixes every service owns: its own, less any longer
    prefix inside one of them that another service owns."""
    result: dict[Any, PathPrefixes] = {}
    for key, mine in owned.items():
        others = [q for other, qs in owned.items() if other != key for q in qs]
        excluded = [q for q in others if any(_under(q, p) and q != p for p in mine)]
        result[key] = PathPrefixes(mine, excluded)
    return result


def compose(apps: Sequence[web.Application], max_body_bytes: int) -> web.Application:
    root = new_app(max_body_bytes)
    root[SERVICES] = list(apps)

    async def healthz(request: web.Request) -> web.StreamResponse:
        return json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.StreamResponse:
        results = await asyncio.gather(*(readiness(a) for a in request.app[SERVICES]))
        ready = all(status == 200 for _, status in results)
        return json_response(
            {
                "status": "ready" if ready else "not_ready",
                "services": {body["service"]: body for body, _ in results},
            },
            status=200 if ready else 503,
        )

    root.router.add_get("/healthz", healthz)
    root.router.add_get("/readyz", readyz)
    routing = rules({id(app): app[DEFINITION].prefixes for app in apps})
    for app in apps:
        root._add_subapp(partial(MatchedSubAppResource, routing[id(app)], app), app)
    return root
