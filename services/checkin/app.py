"""Build the checkin application: the only way to make one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from services.checkin import routes, service
from services.checkin.events import CONSUMERS
from services.checkin.settings import CheckinSettings
from shared.config import load_settings
from shared.runtime import ServiceDefinition, build_app

HERE = Path(__file__).parent

DEFINITION = ServiceDefinition(
    name="checkin",
    migrations=HERE / "migrations",
    prefixes=("/api/checkin", "/scan", "/console/checkin"),
    routes=routes.routes,
    consumers=CONSUMERS,
    on_start=(service.start,),
    on_stop=(service.stop,),
    locale_dir=HERE / "locale",
    statics=(("/scan/static", HERE / "static" / "scan"),),
)


def create_app(settings: CheckinSettings | None = None, **overrides: Any) -> web.Application:
    settings = settings or load_settings(CheckinSettings, **overrides)
    return build_app(DEFINITION, settings)
