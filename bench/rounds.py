"""Alternating rounds for the service benchmarks (``checkin.py``, ``stamprally.py``,
``registration.py``): what they share to measure Tomoni against a bare reference.

This machine is a noisy 2-vCPU VM: the bare one-INSERT endpoint alone varies from 1,650 to
2,450 req/s between runs, so one run of Tomoni's load against one run of the bare load
gives a ratio that swings by ±0.1. A benchmark therefore measures in rounds: round r is
Tomoni's load, then the bare load right after it (same conditions), ``BENCH_ROUNDS`` times
(default 3). Each round's ratio is Tomoni's throughput over the bare throughput *of that
round*; the report gives every round and, in its table, the median over the rounds of
Tomoni's throughput, of the bare throughput, of the per-round ratios and of Tomoni's p50
and p99. The verdicts are taken from those medians. With an even number of rounds, a
median is the mean of the two middle rounds.

Not run on its own; a benchmark uses it so::

    rounds: list[Round] = []
    for r in range(1, ROUNDS + 1):
        ours = await run_load(url, make_request(r), ...)
        bare = await run_load(bare_url, insert_request, ...)  # or a float (ops/s)
        rounds.append(Round(ours, bare))
        progress(r, rounds[-1])  # one line on stderr as each round ends
    m = medians(rounds)  # m.throughput, m.bare, m.ratio, m.p50_ms, m.p99_ms
    lines = [rounds_note(len(rounds)), ..., *round_table(rounds, "scans/s"), *details(rounds)]
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.loadgen import Result


def rounds_from_env(default: int = 3) -> int:
    """``BENCH_ROUNDS`` (at least 1), or ``default``."""
    rounds = int(os.environ.get("BENCH_ROUNDS", default))
    if rounds < 1:
        raise ValueError(f"BENCH_ROUNDS must be at least 1, not {rounds}")
    return rounds


ROUNDS = rounds_from_env()


@dataclass(frozen=True)
class Round:
    """One round: Tomoni's load (``ours``), then the bare reference right after it —
    a loadgen ``Result``, or a rate in operations per second when the reference is not an
    HTTP load (registration's hot-row ``UPDATE``). ``extra`` holds more columns of the
    round's row in the report (column name → cell), e.g. a per-round check."""

    ours: Result
    bare: Result | float
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def bare_throughput(self) -> float:
        return self.bare.throughput if isinstance(self.bare, Result) else float(self.bare)

    @property
    def ratio(self) -> float:
        bare = self.bare_throughput
        return self.ours.throughput / bare if bare > 0 else 0.0

    def line(self, number: int) -> str:
        """The round on one line: both throughputs, the ratio, Tomoni's p50 and p99."""
        return (
            f"round {number}: Tomoni {self.ours.throughput:,.0f}/s, bare "
            f"{self.bare_throughput:,.0f}/s, ratio {self.ratio:.2f}; Tomoni p50 "
            f"{self.ours.p50_ms:.0f} ms, p99 {self.ours.p99_ms:.0f} ms"
        )


@dataclass(frozen=True)
class Medians:
    """Medians over the rounds (``ratio`` is the median of the per-round ratios, not the
    ratio of the medians)."""

    rounds: int
    throughput: float
    bare: float
    ratio: float
    p50_ms: float
    p99_ms: float


def medians(rounds: Sequence[Round]) -> Medians:
    if not rounds:
        raise ValueError("no round to take a median of")
    med = statistics.median
    return Medians(
        rounds=len(rounds),
        throughput=med(r.ours.throughput for r in rounds),
        bare=med(r.bare_throughput for r in rounds),
        ratio=med(r.ratio for r in rounds),
        p50_ms=med(r.ours.p50_ms for r in rounds),
        p99_ms=med(r.ours.p99_ms for r in rounds),
    )


def progress(number: int, rnd: Round) -> None:
    """Report a round on stderr as soon as it ends (a full run takes minutes)."""
    print(rnd.line(number), file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def rounds_note(rounds: int) -> str:
    """The report's header line on how it was measured."""
    return (
        f"- Rounds: {rounds} (`BENCH_ROUNDS`), alternating: in each round Tomoni's load, "
        "then the bare load right after it; every figure in the table is the **median over "
        "the rounds** (the ratio is the median of the per-round ratios), and each round is "
        "listed below it"
    )


def round_table(
    rounds: Sequence[Round], ours: str = "Tomoni req/s", bare: str = "bare req/s"
) -> list[str]:
    """Markdown lines: a row per round (throughputs, that round's ratio, Tomoni's p50 and
    p99, then the ``extra`` columns of the first round) and a row of the medians."""
    columns = list(rounds[0].extra) if rounds else []
    lines = [
        "| round | " + " | ".join([ours, bare, "ratio", "p50", "p99", *columns]) + " |",
        "|---" * (6 + len(columns)) + "|",
    ]
    for number, rnd in enumerate(rounds, 1):
        cells = [
            str(number),
            f"{rnd.ours.throughput:,.0f}",
            f"{rnd.bare_throughput:,.0f}",
            f"{rnd.ratio:.2f}",
            f"{rnd.ours.p50_ms:.0f} ms",
            f"{rnd.ours.p99_ms:.0f} ms",
            *(rnd.extra.get(c, "") for c in columns),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if rounds:
        m = medians(rounds)
        cells = [
            "**median**",
            f"**{m.throughput:,.0f}**",
            f"**{m.bare:,.0f}**",
            f"**{m.ratio:.2f}**",
            f"**{m.p50_ms:.0f} ms**",
            f"**{m.p99_ms:.0f} ms**",
            *("" for _ in columns),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def details(rounds: Sequence[Round], ours: str = "Tomoni", bare: str = "Bare") -> list[str]:
    """Each round's full loadgen figures (statuses, errors, p95, max), a paragraph each."""
    lines: list[str] = []
    for number, rnd in enumerate(rounds, 1):
        lines += [f"Round {number}, {ours}: {rnd.ours.format()}", ""]
        if isinstance(rnd.bare, Result):
            lines += [f"Round {number}, {bare}: {rnd.bare.format()}", ""]
    return lines
