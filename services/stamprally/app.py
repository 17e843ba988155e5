"""Build the stamprally application: the only way to make one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from services.stamprally import pages, routes, service
from services.stamprally.events import CONSUMERS
from services.stamprally.settings import StamprallySettings
from shared.config import load_settings
from shared.runtime import ServiceDefinition, build_app

HERE = Path(__file__).parent

DEFINITION = ServiceDefinition(
    name="stamprally",
    migrations=HERE / "migrations",
    prefixes=("/api/stamprally", "/rally", "/console/rally"),
    routes=routes.routes,
    consumers=CONSUMERS,
    on_start=(service.start,),
    on_stop=(service.stop,),
    locale_dir=HERE / "locale",
    html_errors=pages.html_error,
    statics=(("/rally/static", HERE / "static" / "rally"),),
)


def create_app(settings: StamprallySettings | None = None, **overrides: Any) -> web.Application:
    settings = settings or load_settings(StamprallySettings, **overrides)
    app = build_app(DEFINITION, settings)
    pages.install(app)
    return app
