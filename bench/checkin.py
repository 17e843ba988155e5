"""The check-in benchmark (issue: Check-in, benchmark): scan throughput through HTTP with
50 concurrent devices over distinct tickets, against ``tomoni serve checkin`` in its own
process, and the scan → live snapshot delay; side by side in the same run, the same load
against the bare aiohttp + asyncpg one-INSERT endpoint.

It measures in alternating rounds (see ``bench/rounds.py``): in each round, 20,000 scans
of tickets never scanned before (with their own ``client_scan_id`` prefix, ``r1c``,
``r2c``…) against check-in, then the same load against the bare endpoint right after it.
The bare app is started once and serves every round; all rounds' tickets are signed
before the first. The report lists every round and gives the medians over the rounds
(throughputs, per-round ratios, p50, p99), from which the verdicts are taken. The delay
is probed once, after the last round, with 40 single scans of their own.

Run: ``cd /work/main && .venv/bin/python -m bench.checkin`` (writes
``bench/results/checkin.md``). ``BENCH_SCANS`` changes the number of scans per round,
``BENCH_ROUNDS`` the number of rounds (default 3).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import nats

from bench.loadgen import RequestFactory, RequestSpec, run_load
from bench.reference import insert_request, prepare_schema, start_bare_insert_app
from bench.rounds import (
    ROUNDS,
    Round,
    details,
    medians,
    progress,
    round_table,
    rounds_note,
    verdict,
)
from bench.stack import admin_headers, create_event, pair, service_env
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from shared.security import KeyRing, sign_ticket

ROOT = Path(__file__).resolve().parent.parent
SCANS = int(os.environ.get("BENCH_SCANS", 20_000))
DEVICES, GATES = 50, 5
PROBES = 40  # single scans timed to the live snapshot, after the last round
SLUG = "bench-gates"


def serve(service: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "tomoni"), "serve", service, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        cwd=ROOT,
    )


async def ready(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(url) as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


async def paired_gates(http: aiohttp.ClientSession, reg: str, chk: str) -> list[str]:
    """The test event and ``DEVICES`` paired gate phones, once checkin knows them."""
    admin = await admin_headers(http, reg)
    await create_event(http, reg, admin, SLUG, 100_000)
    tokens = [await pair(http, reg, admin, SLUG, "gate", f"g{d % GATES}") for d in range(DEVICES)]
    for _ in range(300):  # checkin learns the keys and devices over the bus
        async with http.get(
            f"{chk}/api/checkin/device", headers={"Authorization": tokens[-1]}
        ) as r:
            if r.status == 200:
                return tokens
        await asyncio.sleep(0.1)
    raise RuntimeError("checkin never learned of the devices")


def signed_tickets(tmp: Path, n: int = SCANS) -> list[str]:
    """``n`` distinct tickets signed with registration's key (in ``tmp/data``)."""
    ring = KeyRing.load_or_create(tmp / "data" / "keys")
    return [sign_ticket(ring.active, uuid.uuid4(), SLUG) for _ in range(n)]


def scan_request(tokens: list[str], tickets: list[str], prefix: str = "c") -> RequestFactory:
    def scan(worker: int, i: int) -> RequestSpec:
        return (
            "POST",
            "/api/checkin/scans",
            {
                "client_scan_id": f"{prefix}{i}",
                "qr_text": tickets[i % len(tickets)],
                "direction": "in",
            },
            {"Authorization": tokens[worker % len(tokens)]},
        )

    return scan


async def main() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="tomoni-bench-chk-"))
    pg, nats_srv = EmbeddedPostgres(tmp / "pg"), EmbeddedNats(tmp / "nats")
    dsn, nats_url = pg.start(), nats_srv.start()
    env = service_env(tmp, dsn, nats_url)
    reg_port, chk_port = free_port(), free_port()
    procs = [
        serve("registration", reg_port, env, tmp / "reg.log"),
        serve("checkin", chk_port, env, tmp / "chk.log"),
    ]
    bare = None
    rounds: list[Round] = []
    try:
        async with aiohttp.ClientSession() as http:
            reg, chk = f"http://127.0.0.1:{reg_port}", f"http://127.0.0.1:{chk_port}"
            await ready(http, f"{reg}/readyz")
            await ready(http, f"{chk}/readyz")
            tokens = await paired_gates(http, reg, chk)
        # Every round scans tickets never seen before: all are signed before the first.
        tickets = signed_tickets(tmp, SCANS * ROUNDS)
        await prepare_schema(dsn)
        bare = start_bare_insert_app(dsn)

        # Scan → snapshot delay: after the last round, probe scans are timed from their
        # request to the first snapshot on core NATS whose count includes them.
        nc = await nats.connect(nats_url)
        seen: list[tuple[float, int]] = []

        async def on_snapshot(msg: nats.aio.msg.Msg) -> None:
            seen.append((time.perf_counter(), json.loads(msg.data)["admitted_parties"]))

        await nc.subscribe(f"tomoni.live.{SLUG}.checkin", cb=on_snapshot)
        for r in range(1, ROUNDS + 1):
            scan = scan_request(tokens, tickets[(r - 1) * SCANS : r * SCANS], prefix=f"r{r}c")
            result = await run_load(chk, scan, concurrency=DEVICES, requests=SCANS, seconds=300)
            bare_result = await run_load(
                bare.url, insert_request, concurrency=DEVICES, requests=SCANS, seconds=300
            )
            rounds.append(Round(result, bare_result))
            progress(r, rounds[-1])
        # The load generator does not expose per-request times, so the delay is probed
        # separately, with single scans on a quiet system.
        ring = KeyRing.load_or_create(tmp / "data" / "keys")
        delays = await probe_delays(chk, tokens[0], ring, nc, seen)
        await nc.close()
        admitted = seen[-1][1] if seen else 0
    finally:
        if bare is not None:
            bare.stop()
        for p in procs:
            p.terminate()
            p.wait(20)
        nats_srv.stop()
        pg.stop()
    m = medians(rounds)
    p95 = statistics.quantiles(delays, n=20)[-1] if len(delays) >= 20 else max(delays or [0])
    v = verdict
    return "\n".join(
        [
            "# Check-in throughput",
            "",
            "- Command: `cd /work/main && .venv/bin/python -m bench.checkin`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; Python "
            f"{platform.python_version()}; `tomoni serve checkin` (one process, pool 16) and "
            "`tomoni serve registration`; embedded PostgreSQL 18, NATS (sync always); the load "
            "generator in this process on the same 2 cores",
            rounds_note(m.rounds),
            "",
            "| figure | target | measured | verdict |",
            "|---|---|---|---|",
            f"| scans/s ({SCANS:,} distinct tickets per round, {DEVICES} devices, {GATES} gates) "
            f"| ≥ 0.6 of bare | {m.throughput:,.0f} | {v(m.ratio >= 0.6)} |",
            f"| bare one-INSERT endpoint, same load | (reference) | {m.bare:,.0f} | |",
            f"| ratio | ≥ 0.6 | {m.ratio:.2f} | {v(m.ratio >= 0.6)} |",
            f"| scan p99 | < 50 ms | {m.p99_ms:.0f} ms (p50 {m.p50_ms:.0f}) | {v(m.p99_ms < 50)} |",
            f"| scan → live snapshot, p95 of {len(delays)} probes | < 500 ms | {p95 * 1000:.0f} ms "
            f"| {v(p95 < 0.5)} |",
            "",
            f"Admitted parties in the last live snapshot: {admitted:,} (every round's "
            f"tickets are new: {ROUNDS} × {SCANS:,} scans + {PROBES} probes = "
            f"{ROUNDS * SCANS + PROBES:,} expected).",
            "",
            "Rounds (check-in's load, then the bare load right after it):",
            "",
            *round_table(rounds, "scans/s", "bare req/s"),
            "",
            *details(rounds, "check-in", "bare"),
        ]
    )


async def probe_delays(
    chk: str, token: str, ring: KeyRing, nc: nats.NATS, seen: list[tuple[float, int]]
) -> list[float]:
    """Single scans on a quiet system: time from sending the scan to the first snapshot
    showing the new admitted count."""
    delays = []
    async with aiohttp.ClientSession() as http:
        for i in range(PROBES):
            before = len(seen)
            baseline = seen[-1][1] if seen else 0
            t0 = time.perf_counter()
            async with http.post(
                f"{chk}/api/checkin/scans",
                headers={"Authorization": token},
                json={
                    "client_scan_id": f"probe{i}",
                    "qr_text": sign_ticket(ring.active, uuid.uuid4(), SLUG),
                },
            ):
                pass
            deadline = t0 + 5
            while time.perf_counter() < deadline:
                hits = [t for t, n in seen[before:] if n > baseline]
                if hits:
                    delays.append(hits[0] - t0)
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.1)
    return delays


if __name__ == "__main__":
    report = asyncio.run(main())
    out = ROOT / "bench" / "results" / "checkin.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print(report)
