"""What a fact costs NATS to store, one by one and in atomic batches (the outbox relay's
choice in ``shared/outbox.py``): an embedded nats-server with ``sync_interval: always``,
as every NATS the project configures, and the server process's own CPU time (from
``/proc``) per message and per batch.

1. ``N`` messages published one by one, pipelined (``publish_async``), each with its
   ``Nats-Msg-Id``: the relay's way before atomic batches, and still its way for a few rows.
2. The same number in atomic batches (ADR-50) of each size in ``SIZES``, one batch after
   the other, each acknowledged once (its commit).

Run: ``cd /work/main && .venv/bin/python -m bench.natsbatch`` (writes
``bench/results/natsbatch.md``). ``BENCH_MESSAGES`` changes ``N`` (default 10,000).
"""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nats
from nats.js.api import StreamConfig

from shared.embedded import EmbeddedNats
from shared.outbox import BATCH_COMMIT, BATCH_ID, BATCH_SEQUENCE, MSG_ID

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_MESSAGES", 10_000))
SIZES = (4, 16, 36, 64, 256)
BODY = b"x" * 500  # about one envelope of a gate scan


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main() -> str:
    server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="tomoni-bench-nats-")))
    url = server.start()
    assert server.proc is not None
    pid = server.proc.pid
    rows: list[tuple[str, float, float, float]] = []
    try:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="BENCH", subjects=["bench.>"], allow_atomic=True))

        c0, t0 = cpu_seconds(pid), time.perf_counter()
        futures = [
            await js.publish_async("bench.one", BODY, headers={MSG_ID: uuid.uuid4().hex})
            for _ in range(N)
        ]
        await asyncio.gather(*futures)
        cpu, wall = cpu_seconds(pid) - c0, time.perf_counter() - t0
        rows.append(("one by one", wall, cpu / N * 1e6, cpu / N * 1e3))

        for size in SIZES:
            batches = N // size
            c0, t0 = cpu_seconds(pid), time.perf_counter()
            for _ in range(batches):
                batch = uuid.uuid4().hex
                for n in range(1, size + 1):
                    headers = {MSG_ID: uuid.uuid4().hex, BATCH_ID: batch, BATCH_SEQUENCE: str(n)}
                    if n < size:
                        await nc.publish("bench.batch", BODY, headers=headers)
                    else:
                        ack = await js.publish(
                            "bench.batch", BODY, headers={**headers, BATCH_COMMIT: "1"}
                        )
                        assert ack.batch_size == size, ack
            cpu, wall = cpu_seconds(pid) - c0, time.perf_counter() - t0
            count = batches * size
            rows.append((f"atomic batches of {size}", wall, cpu / count * 1e6, cpu / batches * 1e3))
        await nc.close()
    finally:
        server.stop()
    return "\n".join(
        [
            "# NATS: one message at a time, or atomic batches",
            "",
            "- Command: `cd /work/main && .venv/bin/python -m bench.natsbatch`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; Python "
            f"{platform.python_version()}; embedded nats-server (`sync_interval: always`), "
            f"one file-stored stream; {N:,} messages of {len(BODY)} bytes per line",
            "",
            "| how | wall time | nats-server CPU per message | per batch (or message) |",
            "|---|---|---|---|",
            *(
                f"| {how} | {wall:.2f} s | {per_msg:.0f} µs | {per_batch:.2f} ms |"
                for how, wall, per_msg, per_batch in rows
            ),
        ]
    )


if __name__ == "__main__":
    report = asyncio.run(main())
    out = ROOT / "bench" / "results" / "natsbatch.md"
    out.write_text(report + "\n")
    print(report)
