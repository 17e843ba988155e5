"""The ``tomoni`` command: ``up``, ``serve SERVICE``, ``replay SERVICE --since T``,
``migrate``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from shared.config import TomoniSettings, load_settings
from shared.errors import ConfigError
from shared.logging import configure_logging

logger = logging.getLogger("tomoni")

SERVICE_NAMES = ("registration", "checkin", "stamprally", "notify")


def _fast_loop() -> None:
    """uvloop for the long-running commands when it is installed (it is a dependency on
    Linux): the same asyncio API, a faster event loop."""
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()


def _settle_collector() -> None:
    """Once started, move everything alive (modules, catalogs, pools, routes: tens of
    thousands of objects that live as long as the process) out of the cyclic garbage
    collector's reach. A full collection otherwise walks them all: measured in a 16 s scan
    benchmark, five full collections of 34-45 ms each, pauses that every request in flight
    waits through (the scans' p99); frozen, the same five take 1-4 ms."""
    gc.collect()
    gc.freeze()


def _service_module(name: str) -> Any:
    if name not in SERVICE_NAMES:
        raise SystemExit(f"tomoni: unknown service {name!r} (one of {', '.join(SERVICE_NAMES)})")
    return importlib.import_module(f"services.{name}.app")


def _settings_class(name: str) -> type[TomoniSettings]:
    mod = importlib.import_module(f"services.{name}.settings")
    cls: type[TomoniSettings] = getattr(mod, f"{name.capitalize()}Settings")
    return cls


async def _run_until_signal(
    app: web.Application, host: str, port: int, on_ready: Any = None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        _settle_collector()
        if on_ready is not None:
            await on_ready()
        await stop.wait()
        logger.info("stopping")
    finally:
        await runner.cleanup()


# -- up ------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    from shared.embedded import EmbeddedNats, EmbeddedPostgres, LocalMailbox

    overrides: dict[str, Any] = {}
    if "TOMONI_DEMO" not in os.environ:
        overrides["demo"] = True
    base = load_settings(TomoniSettings, **overrides)
    configure_logging(base.log_level, base.log_format)
    data_dir = base.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pg: EmbeddedPostgres | None = None
    nats_srv: EmbeddedNats | None = None
    mailbox: LocalMailbox | None = None
    try:
        if not base.smtp_url:
            mailbox = LocalMailbox(data_dir / "mail")
            overrides["smtp_url"] = mailbox.start()
        if not base.database_url:
            pg = EmbeddedPostgres(data_dir / "postgres")
            overrides["database_url"] = pg.start()
        if not base.nats_url:
            nats_srv = EmbeddedNats(data_dir / "nats")
            overrides["nats_url"] = nats_srv.start()
        runtime_file = data_dir / "runtime.json"
        runtime_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "database_url": overrides.get("database_url", base.database_url),
                    "nats_url": overrides.get("nats_url", base.nats_url),
                    "http_port": base.http_port,
                }
            )
        )
        try:
            _fast_loop()
            asyncio.run(_up(base, overrides, data_dir, pg, nats_srv))
        finally:
            runtime_file.unlink(missing_ok=True)
    finally:
        if mailbox:
            mailbox.stop()
        if nats_srv:
            nats_srv.stop()
        if pg:
            pg.stop()
    return 0


async def _up(
    base: TomoniSettings, overrides: dict[str, Any], data_dir: Path, pg: Any, nats_srv: Any
) -> None:
    from shared.compose import compose

    apps = []
    for name in SERVICE_NAMES:
        settings = load_settings(_settings_class(name), **overrides)
        apps.append(_service_module(name).create_app(settings))
    root = compose(apps, base.max_body_bytes)
    host = os.environ.get("TOMONI_HTTP_HOST", "0.0.0.0")
    port = base.http_port

    async def banner() -> None:
        from shared.runtime import RUNTIME

        url = base.public_url or f"http://127.0.0.1:{port}"
        lines = [
            "",
            f"Tomoni is running: {url}/",
            f"  events (attendees): {url}/events/",
            f"  organizer console:  {url}/console/login",
            f"  scanner app:        {url}/scan/",
            f"  health:            {url}/healthz   {url}/readyz",
            *[f"  {n + ' API:':<19}{url}/api/{n}/openapi.json" for n in SERVICE_NAMES],
            f"  data folder:       {data_dir}",
            f"  PostgreSQL:        {overrides.get('database_url', base.database_url)}"
            + ("  (embedded)" if pg else ""),
            f"  NATS JetStream:    {overrides.get('nats_url', base.nats_url)}"
            + ("  (embedded)" if nats_srv else ""),
            (
                f"  email:             {base.smtp_url}"
                if base.smtp_url
                else f"  email:             kept as .eml files in {data_dir / 'mail'}"
                " (set TOMONI_SMTP_URL to send)"
            ),
        ]
        demo = apps[0][RUNTIME].state.get("demo_access") if RUNTIME in apps[0] else None
        if demo:
            lines.append(f"  demo organizer:    {demo['email']} / {demo['password']}")
            for place, code, link in demo["pairings"]:
                lines.append(f"  pair a phone ({place}): code {code}  {link}")
        lines += ["Press Ctrl-C to stop.", ""]
        print("\n".join(lines), flush=True)

    await _run_until_signal(root, host, port, banner)


# -- serve ---------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    mod = _service_module(args.service)
    settings = load_settings(_settings_class(args.service))
    configure_logging(settings.log_level, settings.log_format)
    if not settings.database_url or not settings.nats_url:
        raise ConfigError(
            "TOMONI_DATABASE_URL and TOMONI_NATS_URL must be set for `tomoni serve`"
            " (`tomoni up` starts embedded ones)"
        )
    port = args.port or settings.http_port
    app = mod.create_app(settings)
    host = os.environ.get("TOMONI_HTTP_HOST", "0.0.0.0")

    async def ready() -> None:
        logger.info("serving", extra={"service": args.service, "port": port})

    _fast_loop()
    asyncio.run(_run_until_signal(app, host, port, ready))
    return 0


def serve_main(service: str) -> None:
    sys.exit(main(["serve", service]))


# -- replay and migrate --------------------------------------------------------------
def _urls_from(settings: TomoniSettings) -> tuple[str, str]:
    """The configured servers, else those of a running ``tomoni up`` in the data folder."""
    db, nats_url = settings.database_url, settings.nats_url
    runtime = settings.data_dir / "runtime.json"
    if (not db or not nats_url) and runtime.exists():
        info = json.loads(runtime.read_text())
        db, nats_url = db or info["database_url"], nats_url or info["nats_url"]
    if not db or not nats_url:
        raise ConfigError(
            "TOMONI_DATABASE_URL and TOMONI_NATS_URL must be set (or `tomoni up` be running)"
        )
    return db, nats_url


def cmd_replay(args: argparse.Namespace) -> int:
    from shared import bus, db, outbox

    _service_module(args.service)
    settings = load_settings(TomoniSettings)
    configure_logging(settings.log_level, settings.log_format)
    dsn, nats_url = _urls_from(settings)
    since = datetime.fromisoformat(args.since)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    async def go() -> int:
        pool = await db.create_pool(dsn, args.service, min_size=1, max_size=2)
        nc = await bus.connect([u.strip() for u in nats_url.split(",")], "tomoni-replay")
        try:
            tag = f"replay-{int(datetime.now(UTC).timestamp())}"
            return await outbox.replay(pool=pool, nc=nc, since=since, replay_tag=tag)
        finally:
            await nc.drain()
            await pool.close()

    n = asyncio.run(go())
    print(f"replayed {n} events of {args.service} since {since.isoformat()}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from shared.runtime import migrate

    settings = load_settings(TomoniSettings)
    configure_logging(settings.log_level, settings.log_format)
    dsn, _ = _urls_from(settings) if not settings.database_url else (settings.database_url, "")
    names = args.services or list(SERVICE_NAMES)

    async def go() -> None:
        for name in names:
            definition = _service_module(name).DEFINITION
            s = load_settings(_settings_class(name), database_url=dsn)
            applied = await migrate(s, definition)
            print(f"{name}: {len(applied)} migration(s) applied")

    asyncio.run(go())
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """Ticket and device signing keys in ``<data dir>/keys``: list, rotate, retire."""
    from shared.security import KeyRing

    settings = load_settings(TomoniSettings)
    ring = KeyRing.load_or_create(settings.data_dir / "keys")
    if args.action == "rotate":
        key = ring.rotate()
        print(f"new signing key {key.kid_text}; older keys keep verifying until retired")
    elif args.action == "retire":
        if not args.kid:
            raise SystemExit("tomoni keys retire KID")
        if args.kid == ring.active.kid_text:
            raise SystemExit("tomoni: the active key cannot be retired; rotate first")
        ring.retire(args.kid)
        print(f"retired {args.kid}: tickets it signed no longer verify")
    for k in ring.keys.values():
        print(f"{k.kid_text}  {'active (signs)' if k.active else 'verifies only'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tomoni", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run everything: embedded PostgreSQL and NATS, all services")
    p_serve = sub.add_parser("serve", help="run one service")
    p_serve.add_argument("service", choices=SERVICE_NAMES)
    p_serve.add_argument("--port", type=int, default=None)
    p_replay = sub.add_parser("replay", help="publish a service's outbox again since a time")
    p_replay.add_argument("service", choices=SERVICE_NAMES)
    p_replay.add_argument("--since", required=True, help="ISO 8601 time, e.g. 2026-11-01T00:00")
    p_migrate = sub.add_parser("migrate", help="apply migrations and exit")
    p_migrate.add_argument("services", nargs="*", metavar="SERVICE")
    p_keys = sub.add_parser("keys", help="list, rotate or retire the ticket signing keys")
    p_keys.add_argument("action", choices=("list", "rotate", "retire"))
    p_keys.add_argument("kid", nargs="?")
    args = parser.parse_args(argv)
    commands = {
        "up": cmd_up,
        "serve": cmd_serve,
        "replay": cmd_replay,
        "migrate": cmd_migrate,
        "keys": cmd_keys,
    }
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"tomoni: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(Exception):
            logging.shutdown()
