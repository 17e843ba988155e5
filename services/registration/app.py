"""Build the registration application: the only way to make one."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from services.registration import organizers, routes, service
from services.registration.events import CONSUMERS
from services.registration.handlers import LIMITS
from services.registration.settings import RegistrationSettings
from shared.config import load_settings
from shared.ratelimit import RateLimiter
from shared.runtime import Runtime, ServiceDefinition, build_app

HERE = Path(__file__).parent


async def _html_error(request: web.Request, status: int, code: str) -> web.StreamResponse:
    """Errors on pages are pages: a localized 404 page; others fall back to the problem
    document (the pages catch the errors they expect themselves)."""
    from services.registration.pages.render import not_found
    from shared.http import problem

    if status == 404:
        return not_found(request)
    return problem(request, status, code)


async def _seed_demo(rt: Runtime) -> None:
    if rt.settings.demo:
        await service.seed_demo(rt, date.today())


DEFINITION = ServiceDefinition(
    name="registration",
    migrations=HERE / "migrations",
    prefixes=("/api/registration", "/events", "/console"),
    routes=routes.routes,
    consumers=CONSUMERS,
    on_start=(service.load_keys, organizers.ensure_admin, _seed_demo),
    background=(service.watch_keys,),
    locale_dir=HERE / "locale",
    html_errors=_html_error,
    statics=(
        ("/events/static", HERE / "static" / "attendee"),
        ("/console/static", HERE / "static" / "console"),
    ),
)


def create_app(settings: RegistrationSettings | None = None, **overrides: Any) -> web.Application:
    settings = settings or load_settings(RegistrationSettings, **overrides)
    app = build_app(DEFINITION, settings)
    on = settings.rate_limit
    app[LIMITS] = {
        # A family registering its members, a few retries: generous for a person,
        # tight for a script.
        "register": RateLimiter(rate_per_minute=20, burst=10, enabled=on),
        "login": RateLimiter(rate_per_minute=10, burst=5, enabled=on),
        "pair": RateLimiter(rate_per_minute=10, burst=5, enabled=on),
    }
    return app
