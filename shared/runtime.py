"""How a service becomes a running aiohttp application: its pool and migrations, its NATS
connection and streams, its outbox relay and consumers, its health routes — all owned by
``cleanup_ctx`` so nothing connects at import and everything closes in reverse order.

A service describes itself once in a :class:`ServiceDefinition`; ``create_app`` in each
service calls :func:`build_app` with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from nats.aio.client import Client as NATS

from shared import bus, db, inbox, outbox
from shared.bus import ConsumerSpec
from shared.config import TomoniSettings
from shared.consumer import Consumer
from shared.errors import ConfigError
from shared.events import Envelope
from shared.http import HTML_ERRORS, HtmlErrorPage, json_response, new_app
from shared.openapi import Route, add_routes, openapi_route

logger = logging.getLogger(__name__)

INFRA_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class ConsumerBinding:
    publisher: str
    event_type: str
    # (conn, envelope, payload), or (runtime, conn, envelope, payload) with ``with_runtime``.
    handler: Callable[..., Coroutine[Any, Any, None]]
    with_runtime: bool = False


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    migrations: Path
    prefixes: tuple[str, ...]
    routes: Callable[[], Sequence[Route]]
    consumers: Sequence[ConsumerBinding] = ()
    locale_dir: Path | None = None
    # (URL prefix, folder) pairs served as static files, e.g. ("/events/static", …).
    statics: Sequence[tuple[str, Path]] = ()
    on_start: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()
    on_stop: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()
    # The service's own retention work, run with the ledger and inbox purge at every
    # maintenance interval (e.g. registration erasing ended events' personal data).
    maintenance: Sequence[Callable[[Runtime], Coroutine[Any, Any, object]]] = ()
    # Renders an HTML error page for paths outside /api/ (status, code) → response.
    html_errors: HtmlErrorPage | None = None

    @property
    def schema(self) -> str:
        return self.name


@dataclass
class Runtime:
    """Everything a running service holds. Handlers reach it as ``request.app[RUNTIME]``."""

    definition: ServiceDefinition
    settings: TomoniSettings
    pool: asyncpg.Pool
    nc: NATS
    relay: outbox.Relay
    consumers: list[Consumer] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    # What a service keeps for itself while running (registration's key ring, …).
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        return (self.settings.public_url or f"http://127.0.0.1:{self.settings.http_port}").rstrip(
            "/"
        )

    @property
    def namespace(self) -> str:
        return self.settings.bus_namespace

    async def publish(self, conn: asyncpg.Connection, *envelopes: Envelope) -> None:
        """Enqueue events in the caller's transaction (call :meth:`committed` after)."""
        await outbox.enqueue_many(conn, envelopes, self.namespace)

    def committed(self) -> None:
        self.relay.wake()


RUNTIME = web.AppKey("runtime", Runtime)
DEFINITION = web.AppKey("definition", ServiceDefinition)


async def _connect_pool(settings: TomoniSettings, definition: ServiceDefinition) -> asyncpg.Pool:
    assert settings.database_url
    deadline = time.monotonic() + 60
    while True:
        try:
            return await db.create_pool(
                settings.database_url,
                definition.schema,
                min_size=settings.db_pool_min,
                max_size=settings.db_pool_max,
                application_name=f"tomoni-{definition.name}",
            )
        except (OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() > deadline:
                raise
            logger.warning("waiting for PostgreSQL", extra={"error": type(exc).__name__})
            await asyncio.sleep(1.0)


async def migrate(settings: TomoniSettings, definition: ServiceDefinition) -> list[str]:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url)
    try:
        applied = await db.apply_migrations(
            conn, definition.schema, INFRA_MIGRATIONS, table="infra_migrations"
        )
        applied += await db.apply_migrations(conn, definition.schema, definition.migrations)
        return applied
    finally:
        await conn.close()


async def maintenance_once(rt: Runtime) -> dict[str, int]:
    """Purge ledger rows and inbox claims past retention, then run the service's own
    maintenance jobs (all idempotent)."""
    now = datetime.now(UTC)
    purged = {
        "outbox": await outbox.purge_sent(
            rt.pool, now - timedelta(days=rt.settings.ledger_retention_days)
        ),
        "inbox": await inbox.purge(rt.pool, now - timedelta(days=rt.settings.inbox_retention_days)),
    }
    if any(purged.values()):
        logger.info("retention purge", extra={"service": rt.definition.name, **purged})
    for job in rt.definition.maintenance:
        await job(rt)
    return purged


async def _maintenance(rt: Runtime) -> None:
    while True:
        try:
            await maintenance_once(rt)
        except db.DB_LOST as exc:
            logger.warning("maintenance failed; will retry", extra={"error": type(exc).__name__})
        await asyncio.sleep(rt.settings.maintenance_interval_seconds)


def _lifecycle(definition: ServiceDefinition, settings: TomoniSettings, test_hooks: dict[str, Any]):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.database_url or not settings.nats_url:
            raise ConfigError(
                "TOMONI_DATABASE_URL and TOMONI_NATS_URL must be set (or use `tomoni up`)"
            )
        await migrate(settings, definition)
        pool = await _connect_pool(settings, definition)
        nc = await bus.connect(settings.nats_servers, f"tomoni-{definition.name}")
        try:
            await bus.ensure_all_streams(
                nc, settings.bus_namespace, replicas=settings.stream_replicas
            )
            relay = outbox.Relay(
                dsn=settings.database_url,
                schema=definition.schema,
                nc=nc,
                pool=pool,
                batch=settings.outbox_batch,
                poll_seconds=settings.outbox_poll_seconds,
                lock_retry_seconds=settings.relay_lock_retry_seconds,
            )
            rt = Runtime(definition=definition, settings=settings, pool=pool, nc=nc, relay=relay)
            app[RUNTIME] = rt
            rt.state["test_hooks"] = dict(test_hooks)
            for binding in definition.consumers:
                spec = ConsumerSpec(
                    service=definition.name,
                    publisher=binding.publisher,
                    event_type=binding.event_type,
                    max_deliver=settings.consumer_max_deliver,
                    ack_wait=settings.consumer_ack_wait_seconds,
                )
                rt.consumers.append(
                    Consumer(
                        nc=nc,
                        pool=pool,
                        namespace=settings.bus_namespace,
                        spec=spec,
                        handler=(
                            partial(binding.handler, rt)
                            if binding.with_runtime
                            else binding.handler
                        ),
                        use_inbox=test_hooks.get("use_inbox", True),
                    )
                )
            for hook in definition.on_start:
                await hook(rt)
            rt.tasks.append(asyncio.create_task(relay.run(), name=f"{definition.name}-relay"))
            for c in rt.consumers:
                rt.tasks.append(asyncio.create_task(c.run(), name=f"consumer-{c.name}"))
            rt.tasks.append(asyncio.create_task(_maintenance(rt), name="maintenance"))
            for job in definition.background:
                rt.tasks.append(asyncio.create_task(job(rt), name=f"{definition.name}-job"))
            yield
            for hook in definition.on_stop:
                with contextlib.suppress(Exception):
                    await hook(rt)
            await stop_tasks(rt.tasks)
        finally:
            # Not drain(): the consumer tasks are gone, and drain waits on their pull
            # subscriptions. Acks already sent are flushed; anything unacked is redelivered.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.flush(), 2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)

    return ctx


async def stop_tasks(tasks: list[asyncio.Task[Any]], timeout: float = 10.0) -> list[str]:
    """Cancel ``tasks`` and wait for them, cancelling again every half second: a library
    can swallow a cancellation (Python 3.11's ``wait_for`` does when its inner future
    finishes at the same moment; a fetch loop then goes round again), and a service that
    never stops on SIGTERM is killed by its orchestrator with its work half done. Returns
    (and logs) the names of the tasks still running after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.5, left))
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()  # retrieved: an error at shutdown is not worth a warning
    names = sorted(t.get_name() for t in pending)
    if names:
        logger.error("tasks did not stop", extra={"tasks": names})
    return names


async def healthz(request: web.Request) -> web.StreamResponse:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.StreamResponse:
    return json_response(*await readiness(request.app))


async def readiness(app: web.Application) -> tuple[dict[str, Any], int]:
    rt = app.get(RUNTIME)
    checks: dict[str, bool] = {"postgres": False, "nats": False, "migrations": False}
    if rt is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(rt.pool.fetchval("SELECT 1"), 2)
            checks["postgres"] = True
        checks["nats"] = rt.nc.is_connected
        if checks["postgres"]:
            with contextlib.suppress(Exception):
                pending = await db.pending_migrations(
                    rt.pool, rt.definition.schema, rt.definition.migrations
                )
                infra = await db.pending_migrations(
                    rt.pool, rt.definition.schema, INFRA_MIGRATIONS, table="infra_migrations"
                )
                checks["migrations"] = not pending and not infra
    ready = all(checks.values())
    body: dict[str, Any] = {
        "service": rt.definition.name if rt else None,
        "status": "ready" if ready else "not_ready",
        "checks": checks,
    }
    if rt is not None:
        # Not a check: a standby replica is as ready as the one holding the relay lock.
        body["relay"] = "active" if rt.relay.active else "standby"
    return body, 200 if ready else 503


def health_routes(definition: ServiceDefinition) -> list[Route]:
    return [
        Route("GET", "/healthz", healthz, "Liveness", public_api=False),
        Route("GET", "/readyz", readyz, "Readiness", public_api=False),
        Route("GET", f"/api/{definition.name}/healthz", healthz, "Liveness"),
        Route("GET", f"/api/{definition.name}/readyz", readyz, "Readiness"),
    ]


def build_app(
    definition: ServiceDefinition, settings: TomoniSettings, **test_hooks: Any
) -> web.Application:
    app = new_app(settings.max_body_bytes, definition.locale_dir)
    app[DEFINITION] = definition

    def all_routes() -> list[Route]:
        return [*health_routes(definition), *definition.routes()]

    # Static folders first, so a page route with a catch-all never hides them.
    for prefix, folder in definition.statics:
        app.router.add_static(prefix, folder, append_version=True)
    add_routes(app, [*all_routes(), openapi_route(definition.name, all_routes)])
    if definition.html_errors is not None:
        app[HTML_ERRORS] = definition.html_errors
    app.cleanup_ctx.append(_lifecycle(definition, settings, test_hooks))
    return app
