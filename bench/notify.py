"""The notify benchmark (issue: Notify, benchmark): emails/s to a local SMTP sink, and the
delay from a registration's 201 to its ticket email arriving, at 50 registrations/s.

Processes: ``tomoni serve registration``, ``tomoni serve notify``, the SMTP sink
(``bench/smtpsink.py``, aiosmtpd), embedded PostgreSQL and NATS; the load generator is
this process. All on the same 2 cores.

1. Throughput: ``BENCH_EMAILS`` (5,000) registrations are made while notify is stopped;
   then notify starts and drains the backlog: bus facts → jobs → rendered mails with
   their QR PNG → SMTP. emails/s = emails / (last arrival − first arrival). Notify's
   per-channel rate limit (``TOMONI_NOTIFY_EMAIL_PER_SECOND``, 300 by default) is raised
   to 2,000 here so the figure is what the process can do, not the limit.
   The sink is ``bench/smtpsink.py`` (``BENCH_SINK=responder``, the default, or
   ``aiosmtpd``): see its docstring for why the default is a minimal responder.
2. Delay: 500 registrations at 50/s (open loop), each timed from its 201 to the arrival
   of its email at the sink; p50/p95/p99.

Run: ``cd /work/main && .venv/bin/python -m bench.notify`` (writes
``bench/results/notify.md``).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.checkin import ready, serve
from bench.stack import admin_headers, create_event, service_env
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parent.parent
EMAILS = int(os.environ.get("BENCH_EMAILS", 5000))
DELAY_RUN, RATE = 500, 50.0


SINK = os.environ.get("BENCH_SINK", "responder")


def start_sink(port: int, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.smtpsink", str(port), str(path), SINK], cwd=ROOT
    )


def arrivals(path: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            at, to, _mid = line.split("\t")
            found.setdefault(to, float(at))
    return found


async def wait_for(path: Path, addresses: list[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = arrivals(path)
        if all(a in got for a in addresses):
            return got
        await asyncio.sleep(0.2)
    got = arrivals(path)
    missing = [a for a in addresses if a not in got]
    raise RuntimeError(f"{len(missing)} emails never arrived")


async def make_event(http: aiohttp.ClientSession, reg: str, slug: str, capacity: int) -> None:
    title = {"ja": "多文化ふれあいフェスタ", "en": "Multicultural Fair"}
    admin = await admin_headers(http, reg)
    await create_event(http, reg, admin, slug, capacity, starts_in=timedelta(days=20), title=title)


async def register(http: aiohttp.ClientSession, reg: str, slug: str, i: int, address: str) -> float:
    languages = ("ja", "en", "vi", "zh", "ko", "tl", "tr", "ne")
    async with http.post(
        f"{reg}/api/registration/events/{slug}/registrations",
        json={
            "category": "visitor",
            "name": f"Bench Person {i}",
            "email": address,
            "language": languages[i % len(languages)],
            "party_size": 1,
        },
    ) as r:
        assert r.status == 201, await r.text()
    return time.time()


async def main() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="tomoni-bench-ntf-"))
    pg, nats_srv = EmbeddedPostgres(tmp / "pg"), EmbeddedNats(tmp / "nats")
    dsn, nats_url = pg.start(), nats_srv.start()
    smtp_port, sink_file = free_port(), tmp / "sink.tsv"
    sink = start_sink(smtp_port, sink_file)
    env = service_env(
        tmp,
        dsn,
        nats_url,
        TOMONI_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        TOMONI_PUBLIC_URL="https://tomoni.example",
        TOMONI_NOTIFY_EMAIL_PER_SECOND="2000",
    )
    reg_port, ntf_port = free_port(), free_port()
    procs = [serve("registration", reg_port, env, tmp / "reg.log")]
    try:
        async with aiohttp.ClientSession() as http:
            reg = f"http://127.0.0.1:{reg_port}"
            await ready(http, f"{reg}/readyz")
            await make_event(http, reg, "bench-backlog", EMAILS)
            await make_event(http, reg, "bench-delay", DELAY_RUN)

            # 1. A backlog of ticket emails, drained by a notify that starts afterwards.
            backlog = [f"b{i}@bench.example" for i in range(EMAILS)]
            sem = asyncio.Semaphore(20)

            async def one(i: int, a: str) -> None:
                async with sem:
                    await register(http, reg, "bench-backlog", i, a)

            await asyncio.gather(*(one(i, a) for i, a in enumerate(backlog)))
            procs.append(serve("notify", ntf_port, env, tmp / "ntf.log"))
            await ready(http, f"http://127.0.0.1:{ntf_port}/readyz")
            got = await wait_for(sink_file, backlog, timeout=300)
            times = sorted(got[a] for a in backlog)
            throughput = (len(times) - 1) / (times[-1] - times[0])

            # 2. Registration → email delay at 50 registrations/s.
            delayed = [f"d{i}@bench.example" for i in range(DELAY_RUN)]
            sent: dict[str, float] = {}
            t0 = time.monotonic()

            async def timed(i: int, a: str) -> None:
                await asyncio.sleep(max(0.0, t0 + i / RATE - time.monotonic()))
                sent[a] = await register(http, reg, "bench-delay", i, a)

            await asyncio.gather(*(timed(i, a) for i, a in enumerate(delayed)))
            got = await wait_for(sink_file, delayed, timeout=120)
            delays = sorted(got[a] - sent[a] for a in delayed)
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
        sink.terminate()
        sink.wait(10)
        nats_srv.stop()
        pg.stop()
    q = statistics.quantiles(delays, n=100)
    p50, p95, p99 = q[49], q[94], q[98]
    v = lambda ok: "met" if ok else "**MISSED**"  # noqa: E731
    return "\n".join(
        [
            "# Notify throughput and delay",
            "",
            "- Command: `cd /work/main && .venv/bin/python -m bench.notify`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; Python "
            f"{platform.python_version()}; `tomoni serve notify` and `tomoni serve "
            "registration` (one process each), the SMTP sink in its own process "
            f"(`bench/smtpsink.py`, {SINK}), embedded PostgreSQL and NATS (sync always), the "
            "load generator: all on the same 2 cores",
            "- Every email is the full ticket email: text and HTML parts in the registrant's "
            "language (8 languages in turn), the QR as an inline PNG and as an attachment",
            "",
            "| figure | target | measured | verdict |",
            "|---|---|---|---|",
            f"| emails/s draining a backlog of {EMAILS:,} ticket emails | ≥ 300 | "
            f"{throughput:,.0f} | {v(throughput >= 300)} |",
            f"| registration 201 → email at the SMTP server, p95 ({DELAY_RUN} registrations "
            f"at {RATE:.0f}/s) | < 3 s | {p95 * 1000:,.0f} ms | {v(p95 < 3)} |",
            f"| same, p50 / p99 / max | | {p50 * 1000:,.0f} / {p99 * 1000:,.0f} / "
            f"{delays[-1] * 1000:,.0f} ms | |",
            "",
        ]
    )


if __name__ == "__main__":
    report = asyncio.run(main())
    out = ROOT / "bench" / "results" / "notify.md"
    out.write_text(report, encoding="utf-8")
    print(report)
