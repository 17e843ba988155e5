"""Build the notify application: the only way to make one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from services.notify import dispatch, routes, service
from services.notify.events import CONSUMERS
from services.notify.pages import STATIC_PREFIX
from services.notify.settings import NotifySettings
from shared.config import load_settings
from shared.runtime import ServiceDefinition, build_app

HERE = Path(__file__).parent

DEFINITION = ServiceDefinition(
    name="notify",
    migrations=HERE / "migrations",
    prefixes=("/api/notify", "/notify", "/console/notify"),
    routes=routes.routes,
    consumers=CONSUMERS,
    statics=((STATIC_PREFIX, HERE / "static"),),
    background=(dispatch.dispatcher, dispatch.scheduler),
    on_start=(service.start,),
    on_stop=(service.stop,),
)


def create_app(settings: NotifySettings | None = None, **overrides: Any) -> web.Application:
    settings = settings or load_settings(NotifySettings, **overrides)
    return build_app(DEFINITION, settings)
