"""The stamp rally benchmark (issue: Stamp rally, benchmark): stamps through HTTP from 40
booth devices (two per booth, 20 booths) over 1,000 attendees' tickets, against
``tomoni serve stamprally`` in its own process; the booth scan → stamp card update delay
(the card's message on core NATS, which the stamp card page relays); and in the same run
the same load against the bare aiohttp + asyncpg one-INSERT endpoint.

It measures in alternating rounds (see ``bench/rounds.py``): in each round, 20,000 stamps
by 1,000 attendees never seen before (so every ticket and booth pair is new) with their
own ``client_scan_id`` prefix (``r1c``, ``r2c``…) against the stamp rally, then the same
load against the bare endpoint right after it. The bare app is started once and serves
every round; all rounds' tickets are signed before the first. The report lists every
round and gives the medians over the rounds (throughputs, per-round ratios, p50, p99),
from which the verdicts are taken. The card update delay is probed once, after the last
round, with 40 single stamps of their own.

Run: ``cd /work/main && .venv/bin/python -m bench.stamprally`` (writes
``bench/results/stamprally.md``). ``BENCH_STAMPS`` changes the number of stamps per round
(at most 20,000 for every stamp to be new), ``BENCH_ROUNDS`` the number of rounds
(default 3).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import nats

from bench.checkin import ready, serve
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
STAMPS = int(os.environ.get("BENCH_STAMPS", 20_000))
BOOTHS, PER_BOOTH, TICKETS = 20, 2, 1000
DEVICES = BOOTHS * PER_BOOTH
SLUG = "bench-rally"
PROBES = 40  # single stamps timed to the card update, after the last round


def stamp_request(tokens: list[str], tickets: list[str], prefix: str = "c") -> RequestFactory:
    def stamp(worker: int, i: int) -> RequestSpec:
        # Concurrent requests are different people: attendee i % 1000 at booth
        # (i // 1000) % 20, on one of that booth's two devices.
        booth = (i // TICKETS) % BOOTHS
        device = booth * PER_BOOTH + i % PER_BOOTH
        return (
            "POST",
            "/api/stamprally/stamps",
            {"client_scan_id": f"{prefix}{i}", "qr_text": tickets[i % TICKETS]},
            {"Authorization": tokens[device]},
        )

    return stamp


async def main() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="tomoni-bench-sr-"))
    pg, nats_srv = EmbeddedPostgres(tmp / "pg"), EmbeddedNats(tmp / "nats")
    dsn, nats_url = pg.start(), nats_srv.start()
    env = service_env(tmp, dsn, nats_url)
    reg_port, sr_port = free_port(), free_port()
    procs = [
        serve("registration", reg_port, env, tmp / "reg.log"),
        serve("stamprally", sr_port, env, tmp / "sr.log"),
    ]
    bare = None
    rounds: list[Round] = []
    try:
        async with aiohttp.ClientSession() as http:
            reg, sr = f"http://127.0.0.1:{reg_port}", f"http://127.0.0.1:{sr_port}"
            await ready(http, f"{reg}/readyz")
            await ready(http, f"{sr}/readyz")
            admin = await admin_headers(http, reg)
            await create_event(http, reg, admin, SLUG, 100_000, starts_in=timedelta(hours=1))
            rally = {
                "title": {"ja": "スタンプラリー"},
                "min_stamps": 10,
                "booths": [
                    {"code": f"b{i:02d}", "name": {"ja": f"ブース{i}"}, "kind": "country"}
                    for i in range(BOOTHS)
                ],
                "prizes": [{"code": "bag", "name": {"ja": "エコバッグ"}, "stock": 300}],
            }
            for _ in range(300):  # stamprally learns the event over the bus
                r = await http.post(
                    f"{sr}/api/stamprally/events/{SLUG}/rally", headers=admin, json=rally
                )
                if r.status == 201:
                    break
                await asyncio.sleep(0.1)
            assert r.status == 201, await r.text()
            tokens = [
                await pair(http, reg, admin, SLUG, "booth", f"b{d // PER_BOOTH:02d}")
                for d in range(DEVICES)
            ]
        ring = KeyRing.load_or_create(tmp / "data" / "keys")
        # Every round's attendees are new: all rounds' tickets are signed before the first.
        tickets = [
            [sign_ticket(ring.active, uuid.uuid4(), SLUG) for _ in range(TICKETS)]
            for _ in range(ROUNDS)
        ]
        await asyncio.sleep(2.0)  # the keys and devices reach stamprally
        await prepare_schema(dsn)
        bare = start_bare_insert_app(dsn)

        for n in range(1, ROUNDS + 1):  # (``r`` is the rally's answer above)
            stamp = stamp_request(tokens, tickets[n - 1], prefix=f"r{n}c")
            result = await run_load(sr, stamp, concurrency=DEVICES, requests=STAMPS, seconds=300)
            bare_result = await run_load(
                bare.url, insert_request, concurrency=DEVICES, requests=STAMPS, seconds=300
            )
            rounds.append(Round(result, bare_result))
            progress(n, rounds[-1])
        delays = await probe_delays(sr, tokens, ring, nats_url)
        conn = await asyncpg.connect(dsn)
        try:
            recorded = await conn.fetchval("SELECT count(*) FROM stamprally.stamps")
        finally:
            await conn.close()
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
            "# Stamp rally throughput",
            "",
            "- Command: `cd /work/main && .venv/bin/python -m bench.stamprally`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; Python "
            f"{platform.python_version()}; `tomoni serve stamprally` (one process, pool 16) "
            "and `tomoni serve registration`; embedded PostgreSQL and NATS (sync always); "
            "the load generator in this process on the same 2 cores",
            rounds_note(m.rounds),
            "",
            "| figure | target | measured | verdict |",
            "|---|---|---|---|",
            f"| stamps/s ({STAMPS:,} stamps per round, {TICKETS:,} new attendees per round, "
            f"{DEVICES} booth devices) | ≥ 0.5 of bare | {m.throughput:,.0f} | "
            f"{v(m.ratio >= 0.5)} |",
            f"| bare one-INSERT endpoint, same load | (reference) | {m.bare:,.0f} | |",
            f"| ratio | ≥ 0.5 | {m.ratio:.2f} | {v(m.ratio >= 0.5)} |",
            f"| stamp p99 | < 60 ms | {m.p99_ms:.0f} ms (p50 {m.p50_ms:.0f}) | "
            f"{v(m.p99_ms < 60)} |",
            f"| booth scan → card update, p95 of {len(delays)} probes | < 500 ms | "
            f"{p95 * 1000:.0f} ms | {v(p95 < 0.5)} |",
            "",
            f"Stamps recorded at the end: {recorded:,} (every round's (ticket, booth) pairs "
            f"are new: {ROUNDS} × {STAMPS:,} stamps + {PROBES} probes = "
            f"{ROUNDS * STAMPS + PROBES:,} expected).",
            "",
            "Rounds (the stamp rally's load, then the bare load right after it):",
            "",
            *round_table(rounds, "stamps/s", "bare req/s"),
            "",
            *details(rounds, "stamps", "bare"),
        ]
    )


async def probe_delays(sr: str, tokens: list[str], ring: KeyRing, nats_url: str) -> list[float]:
    """Single stamps on a quiet system, each timed from sending it to the card's update
    message on core NATS (what the stamp card page's stream relays)."""
    nc = await nats.connect(nats_url)
    delays = []
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(PROBES):
                ticket = uuid.uuid4()
                got: asyncio.Future[float] = asyncio.get_running_loop().create_future()

                async def arrived(_msg: object, f: asyncio.Future[float] = got) -> None:
                    if not f.done():
                        f.set_result(time.perf_counter())

                sub = await nc.subscribe(f"tomoni.rally.card.{ticket}", cb=arrived)
                t0 = time.perf_counter()
                async with http.post(
                    f"{sr}/api/stamprally/stamps",
                    headers={"Authorization": tokens[i % len(tokens)]},
                    json={
                        "client_scan_id": f"probe{i}",
                        "qr_text": sign_ticket(ring.active, ticket, SLUG),
                    },
                ) as r:
                    assert (await r.json())["result"] == "stamped"
                try:
                    delays.append(await asyncio.wait_for(got, 5) - t0)
                finally:
                    await sub.unsubscribe()
                await asyncio.sleep(0.1)
    finally:
        await nc.close()
    return delays


if __name__ == "__main__":
    report = asyncio.run(main())
    (ROOT / "bench" / "results" / "stamprally.md").write_text(report, encoding="utf-8")
    print(report)
