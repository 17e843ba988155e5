"""The registration burst (issue: Registration, benchmark): 10,000 registration attempts at
concurrency 200 against one category of 1,000 places, through HTTP with rate limits off,
against ``tomoni serve registration`` in its own process; and, in the same run, the bare
limit of the stack: one hot-row ``UPDATE … SET remaining = remaining - 1 WHERE remaining >
0`` from a pool of 16.

Run: ``cd /work/main && .venv/bin/python -m bench.registration`` (writes
``bench/results/registration.md``).
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from bench.loadgen import RequestSpec, Result, run_load
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


def request(slug: str):  # type: ignore[no-untyped-def]
    def make(worker: int, i: int) -> RequestSpec:
        return (
            "POST",
            f"/api/registration/events/{slug}/registrations",
            {
                "category": "visitor",
                "name": f"Bench {i}",
                "email": f"b{i}@example.org",
                "language": "ja",
            },
            {},
        )

    return make


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
    try:
        await wait_ready(port, proc)
        base = f"http://127.0.0.1:{port}"
        slug = "bench-burst"
        await prepare(base, slug)
        import psutil

        server = psutil.Process(proc.pid)
        pg_procs = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
        me = psutil.Process()

        def cpu(p: psutil.Process) -> float:
            try:
                t = p.cpu_times()
                return float(t.user + t.system)
            except psutil.Error:
                return 0.0

        before = (cpu(server), sum(cpu(p) for p in pg_procs), cpu(me))
        result: Result = await run_load(
            base, request(slug), concurrency=CONCURRENCY, requests=ATTEMPTS, seconds=300
        )
        after = (cpu(server), sum(cpu(p) for p in pg_procs), cpu(me))
        used = [a - b for a, b in zip(after, before, strict=True)]
        cpu_line = (
            f"CPU during the burst (share of one core): server {used[0] / result.seconds:.0%}, "
            f"PostgreSQL {used[1] / result.seconds:.0%}, load generator "
            f"{used[2] / result.seconds:.0%}; server CPU per registration "
            f"{used[0] / max(result.requests, 1) * 1000:.2f} ms"
        )
        conn = await asyncpg.connect(dsn)
        confirmed = await conn.fetchval(
            "SELECT sum(party_size) FROM registration.registrations"
            " WHERE event_slug=$1 AND status='confirmed'",
            slug,
        )
        waiting = await conn.fetchval(
            "SELECT count(*) FROM registration.registrations WHERE event_slug=$1"
            " AND status='waitlisted'",
            slug,
        )
        await conn.close()
        bare = await hot_row(dsn)
    finally:
        proc.terminate()
        proc.wait(20)
        nats_srv.stop()
        pg.stop()
    ratio = result.throughput / bare
    verdict = lambda ok: "met" if ok else "**MISSED**"  # noqa: E731
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
            "",
            "| figure | target | measured | verdict |",
            "|---|---|---|---|",
            f"| registrations/s ({ATTEMPTS:,} attempts, concurrency {CONCURRENCY}) | ≥ 600 | "
            f"{result.throughput:,.0f} | {verdict(result.throughput >= 600)} |",
            f"| p50 / p99 latency | p99 < 500 ms | {result.p50_ms:.0f} / {result.p99_ms:.0f} ms | "
            f"{verdict(result.p99_ms < 500)} |",
            f"| bare hot-row UPDATE, pool 16 | (reference) | {bare:,.0f}/s | |",
            f"| registrations / bare | ≥ 0.4 | {ratio:.2f} | {verdict(ratio >= 0.4)} |",
            f"| people confirmed | exactly {PLACES:,} | {confirmed:,} (waiting: {waiting:,}) | "
            f"{verdict(confirmed == PLACES)} |",
            "",
            f"Load generator: {result.format()}",
            "",
            cpu_line,
            "",
        ]
    )


if __name__ == "__main__":
    report = asyncio.run(main())
    out = ROOT / "bench" / "results" / "registration.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print(report)
