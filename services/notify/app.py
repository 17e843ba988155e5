"""Build the notify application: the only way to make one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from services.notify import routes
from services.notify.events import CONSUMERS
from services.notify.settings import NotifySettings
from shared.config import load_settings
from shared.runtime import ServiceDefinition, build_app

HERE = Path(__file__).parent

DEFINITION = ServiceDefinition(
    name="notify",
    migrations=HERE / "migrations",
    prefixes=("/api/notify",),
    routes=routes.routes,
    consumers=CONSUMERS,
)


def create_app(settings: NotifySettings | None = None, **overrides: Any) -> web.Application:
    settings = settings or load_settings(NotifySettings, **overrides)
    return build_app(DEFINITION, settings)
