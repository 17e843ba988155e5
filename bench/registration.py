"""The registration burst (issue: Registration, benchmark): 10,000 registration attempts at
concurrency 200 against one category of 1,000 places, through HTTP with rate limits off,
against ``tomoni serve registration`` in its own process; and, in the same run, the bare
limit of the stack: one hot-row ``UPDATE … SET remaining = remaining - 1 WHERE remaining >
0`` from a pool of 16.

It measures in alternating rounds (see ``bench/rounds.py``): each round creates a new event
(``bench-burst-r1``, ``bench-burst-r2``…) with its own category of 1,000 places, bursts
into it with e-mails of its own (``b1-0@example.org``…), checks that exactly 1,000 people
were confirmed, then runs the hot-row ``UPDATE`` right after as that round's bare figure.
The report lists every round (with its confirmed count and its CPU use) and gives the
medians over the rounds (registrations/s, hot-row ops/s, per-round ratios, p50, p99), from
which the verdicts are taken; "exactly 1,000 confirmed" is met only if it holds in every
round.

CPU per round is psutil's user + system time over the burst: the server process, this
process (the load generator), and PostgreSQL as the sum over every ``postgres`` process of
this run's cluster (the postmaster and its children) alive at the end of the burst — CPU at
the end minus CPU at the start, the whole of it for a backend the pool opened during the
burst.

Run: ``cd /work/main && .venv/bin/python -m bench.registration`` (writes
``bench/results/registration.md``). ``BENCH_ATTEMPTS`` changes the attempts per round
(more than 1,000 for a waiting list), ``BENCH_ROUNDS`` the number of rounds (default 3).
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from bench.loadgen import RequestFactory, RequestSpec, Result, run_load
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
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parent.parent
ATTEMPTS, CONCURRENCY, PLACES = int(os.environ.get("BENCH_ATTEMPTS", 10_000)), 200, 1_000
ADMIN = ("bench@tomoni.test", "bench password 123")


async def hot_row(dsn: str, n: int = 20_000, pool_size: int = 16) -> float:
    """ops/s of the bare hot-row conditional UPDATE (autocommit, fsync on)."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "DROP TABLE IF EXISTS bench_hot; CREATE TABLE bench_hot (id int PRIMARY KEY, remaining int)"
    )
    await conn.execute("INSERT INTO bench_hot VALUES (1, $1)", n)
    await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    assert pool is not None
    left = iter(range(n))

    async def worker() -> None:
        async with pool.acquire() as c:
            for _ in left:
                await c.execute(
                    "UPDATE bench_hot SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0"
                )

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(pool_size)))
    elapsed = time.perf_counter() - t0
    await pool.close()
    return n / elapsed


async def prepare(base: str, slug: str) -> None:
    async with aiohttp.ClientSession() as http:
        r = await http.post(
            f"{base}/api/registration/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
        )
        token = (await r.json())["token"]
        start = datetime.now(UTC) + timedelta(days=30)
        body = {
            "slug": slug,
            "kind": "fair",
            "title": {"ja": "ベンチ", "en": "Bench"},
            "venue": {"ja": "会場"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=5)).isoformat(),
            "categories": [{"code": "visitor", "title": {"ja": "来場者"}, "capacity": PLACES}],
        }
        r = await http.post(
            f"{base}/api/registration/events",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status == 201, await r.text()


def request(slug: str, prefix: str = "b") -> RequestFactory:
    """Registrations into ``slug``, e-mails ``{prefix}{i}@example.org`` (unique per round
    with a prefix per round)."""

    def make(worker: int, i: int) -> RequestSpec:
        return (
            "POST",
            f"/api/registration/events/{slug}/registrations",
            {
                "category": "visitor",
                "name": f"Bench {prefix}{i}",
                "email": f"{prefix}{i}@example.org",
                "language": "ja",
            },
            {},
        )

    return make


def cpu_seconds(p: psutil.Process) -> float | None:
    """User + system CPU seconds of a process, or None once it has gone."""
    try:
        t = p.cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return None


def postgres_cpu(postmaster: int) -> dict[tuple[int, float], float]:
    """CPU seconds of this cluster's processes named ``postgres`` (the postmaster and its
    children: backends, walwriter, checkpointer…), keyed by pid and start time so that a
    reused pid is not taken for the same process."""
    try:
        root = psutil.Process(postmaster)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    found: dict[tuple[int, float], float] = {}
    for p in procs:
        try:
            if p.name() != "postgres":
                continue
            key = (p.pid, p.create_time())
        except psutil.Error:
            continue
        used = cpu_seconds(p)
        if used is not None:
            found[key] = used
    return found


@dataclass(frozen=True)
class Burst:
    """One round's burst: the load generator's result, who was confirmed, the CPU used."""

    result: Result
    confirmed: int
    waiting: int
    server_cpu: float  # seconds, during the burst
    postgres_cpu: float
    loadgen_cpu: float
    postgres_procs: int  # alive at the end of the burst
    postgres_new: int  # of which started during it

    def share(self, seconds: float) -> str:
        return f"{seconds / self.result.seconds:.0%}" if self.result.seconds > 0 else "—"

    def cells(self) -> dict[str, str]:
        """The round's extra columns in the report."""
        return {
            "confirmed (waiting)": f"{self.confirmed:,} ({self.waiting:,})"
            + ("" if self.confirmed == PLACES else " **MISSED**"),
            "CPU: server / PostgreSQL / load generator": (
                f"{self.share(self.server_cpu)} / {self.share(self.postgres_cpu)} "
                f"({self.postgres_procs} processes, {self.postgres_new} new) / "
                f"{self.share(self.loadgen_cpu)}"
            ),
            "server CPU per registration": (
                f"{self.server_cpu / max(self.result.requests, 1) * 1000:.2f} ms"
            ),
        }


async def burst(base: str, dsn: str, r: int, server: psutil.Process, postmaster: int) -> Burst:
    """Round ``r``'s registrations into a new event, timed with the CPU they cost."""
    slug = f"bench-burst-r{r}"
    await prepare(base, slug)
    me = psutil.Process()
    pg_before = postgres_cpu(postmaster)
    server_before, me_before = cpu_seconds(server) or 0.0, cpu_seconds(me) or 0.0
    result: Result = await run_load(
        base, request(slug, f"b{r}-"), concurrency=CONCURRENCY, requests=ATTEMPTS, seconds=300
    )
    server_after, me_after = cpu_seconds(server) or 0.0, cpu_seconds(me) or 0.0
    pg_after = postgres_cpu(postmaster)
    conn = await asyncpg.connect(dsn)
    try:
        confirmed = await conn.fetchval(
            "SELECT coalesce(sum(party_size), 0) FROM registration.registrations"
            " WHERE event_slug=$1 AND status='confirmed'",
            slug,
        )
        waiting = await conn.fetchval(
            "SELECT count(*) FROM registration.registrations WHERE event_slug=$1"
            " AND status='waitlisted'",
            slug,
        )
    finally:
        await conn.close()
    return Burst(
        result=result,
        confirmed=int(confirmed),
        waiting=int(waiting),
        server_cpu=server_after - server_before,
        postgres_cpu=sum(end - pg_before.get(key, 0.0) for key, end in pg_after.items()),
        loadgen_cpu=me_after - me_before,
        postgres_procs=len(pg_after),
        postgres_new=len(pg_after.keys() - pg_before.keys()),
    )


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("tomoni serve exited")
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("not ready")


def start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "tomoni"),
                "serve",
                "registration",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=ROOT,
        )


async def main() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="tomoni-bench-reg-"))
    pg, nats_srv = EmbeddedPostgres(tmp / "pg"), EmbeddedNats(tmp / "nats")
    dsn, nats_url = pg.start(), nats_srv.start()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOMONI_")},
        "TOMONI_DATABASE_URL": dsn,
        "TOMONI_NATS_URL": nats_url,
        "TOMONI_RATE_LIMIT": "0",
        "TOMONI_DATA_DIR": str(tmp / "data"),
        "TOMONI_ADMIN_EMAIL": ADMIN[0],
        "TOMONI_ADMIN_PASSWORD": ADMIN[1],
        "TOMONI_LOG_LEVEL": "WARNING",
        "TOMONI_HTTP_HOST": "127.0.0.1",
        "TOMONI_DB_POOL_MAX": "16",
    }
    proc = start_server(port, env, tmp / "serve.log")
    rounds: list[Round] = []
    bursts: list[Burst] = []
    try:
        await wait_ready(port, proc)
        base = f"http://127.0.0.1:{port}"
        server = psutil.Process(proc.pid)
        assert pg.proc is not None
        for r in range(1, ROUNDS + 1):
            b = await burst(base, dsn, r, server, pg.proc.pid)
            bare = await hot_row(dsn)
            bursts.append(b)
            rounds.append(Round(b.result, bare, b.cells()))
            progress(r, rounds[-1])
            print(f"  confirmed {b.confirmed:,}, waiting {b.waiting:,}", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(20)
        nats_srv.stop()
        pg.stop()
    m = medians(rounds)
    exact = all(b.confirmed == PLACES for b in bursts)
    confirmed = " / ".join(f"{b.confirmed:,}" for b in bursts)
    waiting = " / ".join(f"{b.waiting:,}" for b in bursts)
    return "\n".join(
        [
            "# Registration burst",
            "",
            "- Command: `cd /work/main && .venv/bin/python -m bench.registration`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; server: `tomoni serve registration` "
            "(one process, "
            "pool 16), embedded PostgreSQL 18 and NATS (sync always), load generator in another "
            "process on the same 2 cores",
            rounds_note(m.rounds) + "; each round registers into a new event of its own",
            "",
            "| figure | target | measured | verdict |",
            "|---|---|---|---|",
            f"| registrations/s ({ATTEMPTS:,} attempts per round, concurrency {CONCURRENCY}) "
            f"| ≥ 600 | {m.throughput:,.0f} | {verdict(m.throughput >= 600)} |",
            f"| p50 / p99 latency | p99 < 500 ms | {m.p50_ms:.0f} / {m.p99_ms:.0f} ms | "
            f"{verdict(m.p99_ms < 500)} |",
            f"| bare hot-row UPDATE, pool 16 | (reference) | {m.bare:,.0f}/s | |",
            f"| registrations / bare | ≥ 0.4 | {m.ratio:.2f} | {verdict(m.ratio >= 0.4)} |",
            f"| people confirmed, in every round | exactly {PLACES:,} | "
            f"{confirmed} (waiting: {waiting}) | {verdict(exact)} |",
            "",
            "Rounds (the burst, then the bare hot-row UPDATE right after it; CPU is the "
            "share of one core during the burst, PostgreSQL's summed over this cluster's "
            "`postgres` processes alive at its end, including the backends opened during it):",
            "",
            *round_table(rounds, "registrations/s", "hot-row UPDATE/s"),
            "",
            *details(rounds, "load generator"),
        ]
    )


if __name__ == "__main__":
    report = asyncio.run(main())
    out = ROOT / "bench" / "results" / "registration.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print(report)
