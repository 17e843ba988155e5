"""The live board benchmark (issue: live board, benchmark): 100 open boards (SSE streams of
``GET /api/registration/events/{slug}/live``) while scans go on as fast as check-in takes
them; the scan → board delay, and what the boards cost in CPU.

Processes: ``tomoni serve registration`` (it serves the boards) and ``tomoni serve
checkin`` (scans), embedded PostgreSQL and NATS; the load generator, the boards' readers
and the probes are this process. All on the same 2 cores.

1. Baseline: the scan load with no board open; CPU seconds of every process are taken.
2. The same load with 100 boards open. The boards' cost is the CPU the whole machine
   spent beyond the baseline, as a share of the baseline.
3. Delay: during the second run, a probe scan every 200 ms on a ticket of its own is
   timed from its request to the first board snapshot that counts it.

Run: ``cd /work/main && .venv/bin/python -m bench.live`` (writes
``bench/results/live.md``). ``BENCH_SCANS`` changes the number of scans per run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.checkin import ready, serve
from bench.loadgen import RequestSpec, run_load
from bench.stack import admin_headers, create_event, pair, service_env
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from shared.security import KeyRing, sign_ticket

ROOT = Path(__file__).resolve().parent.parent
SCANS = int(os.environ.get("BENCH_SCANS", 20_000))
BOARDS, DEVICES = 100, 40
SLUG = "bench-live"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and all their children (PostgreSQL's)."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


class Boards:
    """``n`` open streams; each keeps its latest admitted count and when it arrived."""

    def __init__(self, http: aiohttp.ClientSession, url: str, admin: dict[str, str], n: int):
        self.http, self.url, self.admin, self.n = http, url, admin, n
        self.seen: list[tuple[float, int]] = []  # (arrival, admitted_parties) on board 0
        self.snapshots = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def _one(self, i: int) -> None:
        async with self.http.get(self.url, headers=self.admin, timeout=None) as r:
            async for raw in r.content:
                if raw.startswith(b"data: "):
                    self.snapshots += 1
                    if i == 0:
                        data = json.loads(raw[6:])
                        admitted = (data.get("checkin") or {}).get("admitted_parties", 0)
                        self.seen.append((time.perf_counter(), admitted))

    async def open(self) -> None:
        self.tasks = [asyncio.create_task(self._one(i)) for i in range(self.n)]
        while self.snapshots < self.n:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def run_once(
    http: aiohttp.ClientSession,
    reg: str,
    chk: str,
    admin: dict[str, str],
    tokens: list[str],
    ring: KeyRing,
    pids: list[int],
    *,
    label: str,
    boards_n: int,
) -> dict[str, Any]:
    """One scan load, with ``boards_n`` boards open, and probes timed to the first board."""
    tickets = [sign_ticket(ring.active, uuid.uuid4(), SLUG) for _ in range(SCANS)]
    tag = label.replace(" ", "-")  # client_scan_id allows no spaces

    def scan(worker: int, i: int) -> RequestSpec:
        return (
            "POST",
            "/api/checkin/scans",
            {"client_scan_id": f"{tag}-{i}", "qr_text": tickets[i], "direction": "in"},
            {"Authorization": tokens[worker % DEVICES]},
        )

    boards = Boards(http, f"{reg}/api/registration/events/{SLUG}/live", admin, boards_n)
    if boards_n:
        await boards.open()
    probes: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        i = 0
        while not stop.is_set() and boards.n:
            i += 1
            before = boards.seen[-1][1] if boards.seen else 0
            mark = len(boards.seen)
            t0 = time.perf_counter()
            async with http.post(
                f"{chk}/api/checkin/scans",
                headers={"Authorization": tokens[0]},
                json={
                    "client_scan_id": f"probe-{tag}-{i}",
                    "qr_text": sign_ticket(ring.active, uuid.uuid4(), SLUG),
                },
            ):
                pass
            while time.perf_counter() - t0 < 5:
                hit = [t for t, n in boards.seen[mark:] if n > before]
                if hit:
                    probes.append(hit[0] - t0)
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.2)

    probe_task = asyncio.create_task(probe())
    cpu0, wall0 = cpu_seconds(pids), time.perf_counter()
    result = await run_load(chk, scan, concurrency=50, requests=SCANS, seconds=120)
    cpu1, wall1 = cpu_seconds(pids), time.perf_counter()
    assert set(result.statuses) == {200}, result.format()
    stop.set()
    await probe_task
    await boards.close()
    return {
        "result": result,
        "cpu_per_scan_ms": (cpu1 - cpu0) / max(1, result.requests) * 1000,
        "cpu_share": (cpu1 - cpu0) / (wall1 - wall0) / (os.cpu_count() or 1),
        "probes": probes,
        "snapshots": boards.snapshots,
    }


async def main() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="tomoni-bench-live-"))
    pg, nats_srv = EmbeddedPostgres(tmp / "pg"), EmbeddedNats(tmp / "nats")
    dsn, nats_url = pg.start(), nats_srv.start()
    env = service_env(tmp, dsn, nats_url)
    reg_port, chk_port = free_port(), free_port()
    procs = [
        serve("registration", reg_port, env, tmp / "reg.log"),
        serve("checkin", chk_port, env, tmp / "chk.log"),
    ]
    pids = [p.pid for p in procs] + [os.getpid()]
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=BOARDS + 100)
        ) as http:
            reg, chk = f"http://127.0.0.1:{reg_port}", f"http://127.0.0.1:{chk_port}"
            await ready(http, f"{reg}/readyz")
            await ready(http, f"{chk}/readyz")
            admin = await admin_headers(http, reg)
            await create_event(http, reg, admin, SLUG, 100_000)
            tokens = [
                await pair(http, reg, admin, SLUG, "gate", f"g{d % 5}") for d in range(DEVICES)
            ]
            await asyncio.sleep(2.0)  # keys and devices reach checkin
            ring = KeyRing.load_or_create(tmp / "data" / "keys")
            runs = {
                label: await run_once(
                    http, reg, chk, admin, tokens, ring, pids, label=label, boards_n=n
                )
                for label, n in (("no board", 0), (f"{BOARDS} boards", BOARDS))
            }
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
        nats_srv.stop()
        pg.stop()
    base, loaded = runs["no board"], runs[f"{BOARDS} boards"]
    extra = loaded["cpu_per_scan_ms"] / base["cpu_per_scan_ms"] - 1
    probes = loaded["probes"]
    p95 = statistics.quantiles(probes, n=20)[-1] if len(probes) >= 20 else max(probes or [0])
    v = lambda ok: "met" if ok else "**MISSED**"  # noqa: E731
    return "\n".join(
        [
            "# Live board: 100 open boards during a scan load",
            "",
            "- Command: `cd /work/main && .venv/bin/python -m bench.live`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; Python "
            f"{platform.python_version()}; `tomoni serve registration` (serving the boards) and "
            "`tomoni serve checkin`; embedded PostgreSQL and NATS; the load generator and the "
            "100 boards' readers in this process, on the same 2 cores",
            "",
            "| figure | target | measured | verdict |",
            "|---|---|---|---|",
            f"| scans/s with no board / with {BOARDS} boards | (2,000/s asked; what check-in "
            f"takes here) | {base['result'].throughput:,.0f} / "
            f"{loaded['result'].throughput:,.0f} | |",
            f"| scan → board delay, p95 of {len(probes)} probes | < 1 s | {p95 * 1000:,.0f} ms "
            f"| {v(p95 < 1)} |",
            f"| CPU per scan, whole machine, boards vs none | < +10% | "
            f"{base['cpu_per_scan_ms']:.2f} → {loaded['cpu_per_scan_ms']:.2f} ms "
            f"({extra * 100:+.1f}%) | {v(extra < 0.10)} |",
            f"| snapshots received by the {BOARDS} boards | | {loaded['snapshots']:,} | |",
            "",
            f"No board: {base['result'].format()}",
            "",
            f"{BOARDS} boards: {loaded['result'].format()}",
            "",
        ]
    )


if __name__ == "__main__":
    report = asyncio.run(main())
    (ROOT / "bench" / "results" / "live.md").write_text(report, encoding="utf-8")
    print(report)
