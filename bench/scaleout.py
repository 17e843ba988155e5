"""Check-in scale-out (issue: Deploy and scale, benchmark): the check-in benchmark's load
(50 gate phones, distinct tickets) against one and then two replicas of ``tomoni serve
checkin`` behind nginx, as deploy/compose runs them, and straight at one replica for
the proxy's own cost. Each run counts the CPU seconds every process used (psutil), so
the result says where the two cores went and what a bigger machine would gain.

Run: ``make bench-scaleout`` (installs Debian's nginx when missing), or
``.venv/bin/python -m bench.scaleout``; writes ``bench/results/scaleout.md``.
``BENCH_SCANS`` changes the number of scans per run.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil

from bench.checkin import DEVICES, SCANS, paired_gates, ready, scan_request, serve, signed_tickets
from bench.loadgen import Result, run_load
from bench.stack import service_env
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scaleout.md"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not found:
        raise SystemExit("nginx is missing: `make bench-scaleout` installs Debian's nginx-light")
    return found


@contextmanager
def nginx(tmp: Path, upstreams: list[int]) -> Iterator[str]:
    """nginx in front of ``upstreams`` (round robin, keep-alive), as deploy/compose's."""
    port = free_port()
    conf = tmp / f"nginx-{port}.conf"
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in upstreams)
    conf.write_text(
        f"""
{"user " + getpass.getuser() + ";" if os.geteuid() == 0 else ""}
worker_processes 1;
error_log {tmp}/nginx-error.log warn;
pid {tmp}/nginx-{port}.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  upstream checkin {{
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    location /api/checkin {{
      proxy_pass http://checkin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
}}
"""
    )
    proc = subprocess.Popen(
        [nginx_binary(), "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "nginx.stderr").open("ab"),
    )
    try:
        for _ in range(100):
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(tmp / 'nginx.stderr').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class Run:
    name: str
    result: Result
    cpu: dict[str, float]  # component → CPU seconds during the run

    def per_scan_ms(self, component: str) -> float:
        return 1000 * self.cpu.get(component, 0.0) / max(1, self.result.statuses.get(200, 0))


def cpu_seconds(groups: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """CPU seconds (user + system) of each group of processes and their children."""
    out: dict[str, float] = {}
    for name, roots in groups.items():
        total = 0.0
        for root in roots:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
        out[name] = total
    return out


def nginx_procs() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "nginx"]


async def measured(
    name: str,
    url: str,
    tickets: list[str],
    tokens: list[str],
    groups: dict[str, list[psutil.Process]],
) -> Run:
    groups = {**groups, "nginx": nginx_procs(), "load generator": [psutil.Process()]}
    before = cpu_seconds(groups)
    result = await run_load(
        url,
        scan_request(tokens, tickets, prefix=uuid.uuid4().hex[:8]),
        concurrency=DEVICES,
        requests=len(tickets),
        seconds=300,
    )
    after = cpu_seconds(groups)
    return Run(name, result, {k: after[k] - before[k] for k in groups})


async def main() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="tomoni-bench-scale-"))
    pg, nats_srv = EmbeddedPostgres(tmp / "pg"), EmbeddedNats(tmp / "nats")
    dsn, nats_url = pg.start(), nats_srv.start()
    env = service_env(tmp, dsn, nats_url)
    reg_port, a_port, b_port = free_port(), free_port(), free_port()
    procs = {
        "registration": serve("registration", reg_port, env, tmp / "reg.log"),
        "checkin A": serve("checkin", a_port, env, tmp / "chk-a.log"),
        "checkin B": serve("checkin", b_port, env, tmp / "chk-b.log"),
    }
    runs: list[Run] = []
    try:
        async with aiohttp.ClientSession() as http:
            reg = f"http://127.0.0.1:{reg_port}"
            for port in (reg_port, a_port, b_port):
                await ready(http, f"http://127.0.0.1:{port}/readyz")
            tokens = await paired_gates(http, reg, f"http://127.0.0.1:{a_port}")
        all_tickets = signed_tickets(tmp, 3 * SCANS)
        batches = [all_tickets[i * SCANS : (i + 1) * SCANS] for i in range(3)]
        groups = {
            "checkin": [
                psutil.Process(procs["checkin A"].pid),
                psutil.Process(procs["checkin B"].pid),
            ],
            "postgres": [psutil.Process(pg.proc.pid)] if pg.proc else [],
            "nats": [psutil.Process(nats_srv.proc.pid)] if nats_srv.proc else [],
            "registration": [psutil.Process(procs["registration"].pid)],
        }
        direct = f"http://127.0.0.1:{a_port}"
        runs.append(await measured("1 replica, direct", direct, batches[0], tokens, groups))
        with nginx(tmp, [a_port]) as url:
            runs.append(await measured("1 replica, nginx", url, batches[1], tokens, groups))
        with nginx(tmp, [a_port, b_port]) as url:
            runs.append(await measured("2 replicas, nginx", url, batches[2], tokens, groups))
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(20)
        nats_srv.stop()
        pg.stop()
    return report(runs)


def report(runs: list[Run]) -> str:
    components = ["checkin", "postgres", "nginx", "load generator", "nats", "registration"]
    lines = [
        "# Check-in scale-out: one and two replicas behind nginx",
        "",
        "- Command: `make bench-scaleout` (or `.venv/bin/python -m bench.scaleout`)",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; Python "
        f"{platform.python_version()}; `tomoni serve checkin` ×2 (pool 16 each), "
        "`tomoni serve registration`, embedded PostgreSQL and NATS (sync always), nginx "
        "(1 worker, keep-alive upstreams), the load generator in this process; all on the "
        "same 2 cores",
        f"- Load: {DEVICES} gate phones in a closed loop, {SCANS:,} distinct tickets per run",
        "",
        "| run | scans/s | p50 | p99 | CPU busy |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        busy = sum(r.cpu.values()) / (r.result.seconds * (os.cpu_count() or 1))
        lines.append(
            f"| {r.name} | {r.result.throughput:,.0f} | {r.result.p50_ms:.0f} ms | "
            f"{r.result.p99_ms:.0f} ms | {busy:.0%} |"
        )
    lines += [
        "",
        "CPU milliseconds per scan, by process (user + system, from psutil):",
        "",
        "| run | " + " | ".join(components) + " | total |",
        "|---|" + "---|" * (len(components) + 1),
    ]
    for r in runs:
        cells = [f"{r.per_scan_ms(c):.2f}" for c in components]
        total = sum(r.per_scan_ms(c) for c in components)
        lines.append(f"| {r.name} | " + " | ".join(cells) + f" | {total:.2f} |")
    lines += ["", *[f"{r.name}: {r.result.format()}" for r in runs], ""]
    return "\n".join(lines)


if __name__ == "__main__":
    text = asyncio.run(main())
    RESULTS.write_text(text)
    sys.stdout.write(text)
