"""Build the registration application: the only way to make one."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from services.registration import live, organizers, privacy, routes, service
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
        rt.state["demo_access"] = await _demo_access(rt)


async def _demo_access(rt: Runtime) -> dict[str, object]:
    """For a demo: an organizer login (unless TOMONI_ADMIN_EMAIL names one) kept in the
    data folder, and fresh pairing codes for two gates of the Multicultural Fair."""
    from services.registration import devices
    from shared.ids import new_secret

    email, password = rt.settings.admin_email, rt.settings.admin_password
    if not email:
        email = "demo@tomoni.invalid"
        stored = rt.settings.data_dir / "demo-login.txt"
        if not stored.exists():
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(new_secret(12))
            stored.chmod(0o600)
        password = stored.read_text().strip()
        row = await rt.pool.fetchrow("SELECT id FROM organizers WHERE email = $1", email)
        if row is None:
            await organizers.create(rt, email, password, [], role="admin")
    admin = await rt.pool.fetchrow("SELECT * FROM organizers WHERE email = $1", email.lower())
    pairings = []
    fair = await rt.pool.fetchval(
        "SELECT slug FROM events WHERE kind = 'fair' ORDER BY starts_at LIMIT 1"
    )
    if admin is not None and fair:
        org = organizers.Organizer(admin["id"], admin["email"], admin["role"], ())
        for place in ("east", "west"):
            made = await devices.create_pairing(rt, org, fair, "gate", place, f"Demo {place}")
            pairings.append((f"{fair} gate {place}", made["pairing_code"], made["pairing_url"]))
    return {"email": email, "password": password, "pairings": pairings}


DEFINITION = ServiceDefinition(
    name="registration",
    migrations=HERE / "migrations",
    prefixes=("/api/registration", "/events", "/console"),
    routes=routes.routes,
    consumers=CONSUMERS,
    on_start=(service.load_keys, organizers.ensure_admin, _seed_demo, live.start),
    on_stop=(live.stop,),
    background=(service.watch_keys,),
    maintenance=(privacy.erase_expired,),
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
        # Limits are per client address, and at a venue many phones share one (the
        # venue's Wi-Fi, a carrier's NAT): generous enough for a crowd behind one
        # address, far too slow to guess a pairing code (8 of 32 symbols) or to flood.
        "register": RateLimiter(rate_per_minute=120, burst=60, enabled=on),
        "login": RateLimiter(rate_per_minute=20, burst=10, enabled=on),
        # Wrong passwords per account, whatever address they come from (a guesser with
        # many addresses): 30, then one a minute. Only failures count.
        "login_account": RateLimiter(rate_per_minute=1, burst=30, enabled=on),
        "pair": RateLimiter(rate_per_minute=60, burst=40, enabled=on),
        # Registrations that will be sent SMS (the city pays for each), per client: a
        # family's or a help desk's worth at once, then one a minute.
        "sms": RateLimiter(rate_per_minute=1, burst=20, enabled=on),
    }
    return app
