"""Bare reference points, measured in the same run and on the same servers as the project,
so that a figure for Tomoni is read against what the hardware and the libraries give
without any of Tomoni's code in between:

* :func:`start_bare_insert_app`: aiohttp + asyncpg, one ``INSERT`` per request, a pool of
  16 — the ceiling for an HTTP endpoint that writes one row per request;
* :func:`bare_publish`: a pipelined ``js.publish_async`` loop with a ``Nats-Msg-Id`` per
  message into a file-backed stream — the ceiling for the outbox relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg
import nats.js.api as api
import nats.js.errors
from aiohttp import web

from bench.loadgen import RequestSpec
from shared import bus
from shared.embedded import free_port
from shared.outbox import MSG_ID

SCHEMA = "bench_reference"
ROOT = Path(__file__).resolve().parent.parent
POOL = web.AppKey("pool", asyncpg.Pool)


# -- (a) the bare one-INSERT endpoint ------------------------------------------------------
async def prepare_schema(dsn: str) -> None:
    """The table the bare endpoint writes to (kept small: an id, two ints, a JSON body)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.hits (
                    id bigserial PRIMARY KEY,
                    worker integer NOT NULL,
                    n bigint NOT NULL,
                    body jsonb NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now())"""
        )
    finally:
        await conn.close()


async def _hit(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    new_id = await request.app[POOL].fetchval(
        f"INSERT INTO {SCHEMA}.hits (worker, n, body) VALUES ($1, $2, $3::jsonb) RETURNING id",
        int(body.get("worker", 0)),
        int(body.get("n", 0)),
        json.dumps(body),
    )
    return web.json_response({"id": new_id}, status=201)


async def _ping(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def make_app(dsn: str, pool_size: int = 16) -> web.Application:
    """``POST /hit`` inserts one row; ``GET /ping`` touches nothing (the HTTP floor)."""

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
        assert pool is not None
        app[POOL] = pool
        yield
        await pool.close()

    app = web.Application()
    app.router.add_post("/hit", _hit)
    app.router.add_get("/ping", _ping)
    app.cleanup_ctx.append(pool_ctx)
    return app


def insert_request(worker: int, index: int) -> RequestSpec:
    """The loadgen request for the bare endpoint: a small JSON body, like a registration."""
    return (
        "POST",
        "/hit",
        {"worker": worker, "n": index, "email": f"bench{index}@example.invalid", "lang": "ja"},
        {},
    )


async def _serve(dsn: str, port: int, pool_size: int, stop: asyncio.Event) -> AsyncIterator[None]:
    await prepare_schema(dsn)
    runner = web.AppRunner(make_app(dsn, pool_size), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield
        await stop.wait()
    finally:
        await runner.cleanup()


def _serve_main(dsn: str, port: int, pool_size: int) -> None:
    """Child process (``python -m bench.reference``): dies with the bench through a
    parent-death signal, stops on SIGTERM."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async for _ in _serve(dsn, port, pool_size, stop):
            pass

    # The same event loop as `tomoni serve` (uvloop), so the bare figure is the limit of
    # the stack the services run on. Measured against asyncio's own loop, 2026-11-29:
    # 2,198 and 2,342 req/s against 1,984 and 2,291, within this machine's noise.
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(main())


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bare app exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"bare app did not listen within {timeout}s")


@dataclass(frozen=True)
class RunningApp:
    """A started bare app: its base URL, how to stop it, and the pid serving it (this
    process in ``thread`` mode) so a benchmark can account for its CPU."""

    url: str
    stop: Callable[[], None]
    pid: int


def start_bare_insert_app(
    dsn: str,
    *,
    mode: Literal["process", "thread"] = "process",
    pool_size: int = 16,
    timeout: float = 30.0,
) -> RunningApp:
    """Start the bare endpoint on a free 127.0.0.1 port; return its URL and a stop function.

    ``process`` (the default) runs it in a child process, as ``tomoni up`` runs apart from
    the load generator, so the two figures are comparable. ``thread`` runs it inside this
    process on its own event loop: the server then shares the GIL (one core) with the load
    generator, which is what an in-process server costs on a 2-core machine.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if mode == "process":
        # A plain subprocess rather than multiprocessing: spawn would re-import the
        # caller's __main__, which breaks any script that lacks a main guard.
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.reference", dsn, str(port), str(pool_size)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

        def stop_process() -> None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)

        try:
            # The site listens only after the pool is up (runner.setup runs cleanup_ctx).
            _wait_listening(port, proc, timeout)
        except BaseException:
            stop_process()
            raise
        return RunningApp(url, stop_process, proc.pid)

    ready = threading.Event()
    state: dict[str, Any] = {}

    def thread_main() -> None:
        async def main() -> None:
            stop = asyncio.Event()
            state["loop"], state["stop"] = asyncio.get_running_loop(), stop
            serving = _serve(dsn, port, pool_size, stop)
            try:
                await anext(serving)
            except BaseException as exc:
                state["error"] = exc
                ready.set()
                raise
            ready.set()
            with contextlib.suppress(StopAsyncIteration):
                await anext(serving)

        with contextlib.suppress(Exception):
            asyncio.run(main())
        ready.set()

    thread = threading.Thread(target=thread_main, name="bare-insert-app", daemon=True)
    thread.start()

    def stop_thread() -> None:
        loop, stop = state.get("loop"), state.get("stop")
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(15)

    if not ready.wait(timeout) or "error" in state:
        stop_thread()
        raise RuntimeError(f"bare app failed to start: {state.get('error', 'timeout')!r}")
    return RunningApp(url, stop_thread, os.getpid())


# -- (b) the bare pipelined publish loop ---------------------------------------------------
@dataclass(frozen=True)
class PublishResult:
    messages: int
    size: int
    window: int
    seconds: float
    batch: int | None  # None: one continuous window; else wait for all acks every `batch`
    duplicates: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        how = f"window {self.window}" + (
            f", all acks awaited every {self.batch}" if self.batch else ", continuous"
        )
        return (
            f"{self.rate:.0f} msg/s ({self.messages} × {self.size} B in {self.seconds:.2f} s, "
            f"{how}; duplicates {self.duplicates})"
        )


async def ensure_bare_stream(js: Any, stream: str, subject_prefix: str) -> None:
    """A file-backed stream configured like the project's (limits, 2-minute dedup window)."""
    config = api.StreamConfig(
        name=stream,
        subjects=[f"{subject_prefix}.>"],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        duplicate_window=bus.DUPLICATE_WINDOW_SECONDS,
        num_replicas=1,
    )
    try:
        await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)


async def bare_publish(
    nats_url: str,
    *,
    count: int,
    size: int = 500,
    window: int = 256,
    batch: int | None = None,
    stream: str = "BENCH_BARE",
    subject_prefix: str = "benchbare",
) -> PublishResult:
    """Publish ``count`` messages of ``size`` bytes with ``publish_async`` and at most
    ``window`` unacknowledged, each with its own ``Nats-Msg-Id``; time it from the first
    publish to the last ack. With ``batch`` set, also wait for every ack after each
    ``batch`` messages, which is the relay's stop-and-wait without any database work."""
    if not 1 <= count <= 1_000_000 or not 1 <= size <= 512 * 1024:
        raise ValueError("count must be in 1..1e6 and size in 1..512 KiB")
    nc = await bus.connect([nats_url], "tomoni-bench-bare")
    try:
        js = nc.jetstream(timeout=10.0, publish_async_max_pending=window)
        await ensure_bare_stream(js, stream, subject_prefix)
        subject = f"{subject_prefix}.msg"
        payload = b"x" * size
        run = uuid.uuid4().hex
        acks: list[Any] = []
        pending: list[asyncio.Future[Any]] = []
        start = time.perf_counter()
        for i in range(count):
            pending.append(await js.publish_async(subject, payload, headers={MSG_ID: f"{run}-{i}"}))
            if batch and len(pending) >= batch:
                acks += await asyncio.gather(*pending)
                pending = []
        acks += await asyncio.gather(*pending)
        seconds = time.perf_counter() - start
        return PublishResult(
            messages=count,
            size=size,
            window=window,
            seconds=seconds,
            batch=batch,
            duplicates=sum(1 for a in acks if getattr(a, "duplicate", False)),
        )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)


if __name__ == "__main__":
    # Internal entry for start_bare_insert_app(mode="process"): DSN PORT POOL_SIZE.
    _serve_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
