"""A closed-loop HTTP load generator on aiohttp's client, for loopback targets only.

Closed loop: each of N workers sends its next request only when the previous answer has
arrived, so the offered load adapts to the server and the latencies measured are those a
real client would see at that concurrency (an open-loop generator on a 2-core machine would
mostly measure its own queue). A run stops after a request count or a duration, whichever
comes first; both are required so that no benchmark can run away.

What to send comes from a callable ``(worker_index, request_index) -> (method, path,
json_body | None, headers)``; ``request_index`` is unique across all workers of a run
(0, 1, 2, …), so a benchmark can derive unique e-mail addresses or ticket codes from it.

Run ``python -m bench.loadgen URL --concurrency C --requests N --seconds S`` for a plain GET.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

ALLOWED_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_CONCURRENCY = 1000
MAX_REQUESTS = 5_000_000
MAX_SECONDS = 600.0

RequestSpec = tuple[str, str, Any | None, Mapping[str, str]]
"""(method, path with query, JSON body or None, headers)."""

RequestFactory = Callable[[int, int], RequestSpec]


def get(path: str) -> RequestFactory:
    """The factory of a plain ``GET path``."""

    def make(_worker: int, _index: int) -> RequestSpec:
        return ("GET", path, None, {})

    return make


def check_target(url: str) -> URL:
    """Refuse anything but loopback: these tools must never load another machine."""
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or parsed.host not in ALLOWED_HOSTS:
        raise ValueError(
            f"refusing target {url!r}: only http(s) on {sorted(ALLOWED_HOSTS)} is allowed"
        )
    return parsed


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Result:
    """One run. Latencies are of answered requests (any HTTP status), in milliseconds,
    from sending to having read the whole body; transport failures are in ``errors``."""

    concurrency: int
    requests: int  # answered requests (any status)
    seconds: float
    throughput: float  # answered requests per second of wall time
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    stopped_by: str = "requests"  # "requests" or "seconds"

    def format(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"
        line = (
            f"{self.throughput:.0f} req/s ({self.requests} in {self.seconds:.2f} s, "
            f"concurrency {self.concurrency}, stopped by {self.stopped_by}); "
            f"latency ms p50 {self.p50_ms:.1f} p95 {self.p95_ms:.1f} "
            f"p99 {self.p99_ms:.1f} max {self.max_ms:.1f}; status {statuses}"
        )
        if self.errors:
            line += "; errors " + ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        return line


async def run_load(
    base_url: str,
    make_request: RequestFactory,
    *,
    concurrency: int,
    requests: int,
    seconds: float,
    request_timeout: float = 10.0,
) -> Result:
    """Run ``concurrency`` closed-loop workers against ``base_url`` (scheme, host and port;
    the factory gives the path) until ``requests`` have been sent or ``seconds`` have
    passed. The run is bounded by ``seconds + request_timeout`` in the worst case."""
    base = str(check_target(base_url).origin())
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be in 1..{MAX_CONCURRENCY}")
    if not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"requests must be in 1..{MAX_REQUESTS}")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be in (0, {MAX_SECONDS}]")

    counter = itertools.count()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    stopped_by = "requests"
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(session: aiohttp.ClientSession, w: int) -> None:
        nonlocal stopped_by
        while True:
            if time.perf_counter() >= deadline:
                stopped_by = "seconds"
                return
            i = next(counter)  # one event loop: no lock needed
            if i >= requests:
                return
            method, path, body, headers = make_request(w, i)
            if not path.startswith("/"):
                raise ValueError(f"request path must start with '/': {path!r}")
            t0 = time.perf_counter()
            try:
                async with session.request(method, base + path, json=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[status] += 1

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session, w) for w in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    ms = [x * 1000.0 for x in latencies]
    return Result(
        concurrency=concurrency,
        requests=len(latencies),
        seconds=elapsed,
        throughput=len(latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1] if ms else 0.0,
        statuses=dict(statuses),
        errors=dict(errors),
        stopped_by=stopped_by,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadgen", description="closed-loop GET load on a loopback URL"
    )
    parser.add_argument("url", help="e.g. http://127.0.0.1:8080/healthz")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        target = check_target(args.url)
    except ValueError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(
        run_load(
            str(target.origin()),
            get(target.raw_path_qs or "/"),
            concurrency=args.concurrency,
            requests=args.requests,
            seconds=args.seconds,
        )
    )
    print(result.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
