"""Build the registration application: the only way to make one."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from services.registration import routes, service
from services.registration.events import CONSUMERS
from services.registration.settings import RegistrationSettings
from shared.config import load_settings
from shared.runtime import Runtime, ServiceDefinition, build_app

HERE = Path(__file__).parent


async def _seed_demo(rt: Runtime) -> None:
    if rt.settings.demo:
        await service.seed_demo(rt, date.today())


DEFINITION = ServiceDefinition(
    name="registration",
    migrations=HERE / "migrations",
    prefixes=("/api/registration", "/events", "/console"),
    routes=routes.routes,
    consumers=CONSUMERS,
    on_start=(_seed_demo,),
)


def create_app(settings: RegistrationSettings | None = None, **overrides: Any) -> web.Application:
    settings = settings or load_settings(RegistrationSettings, **overrides)
    return build_app(DEFINITION, settings)
