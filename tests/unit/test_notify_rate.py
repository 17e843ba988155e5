"""The per-channel rate limit: a backlog after an outage leaves at the channel's rate, not
all at once (a fake clock: no waiting in the test)."""

from __future__ import annotations

import pytest

from services.notify.dispatch import Bucket


async def test_a_backlog_leaves_at_the_channels_rate() -> None:
    now = [1000.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = Bucket(rate=10, clock=lambda: now[0], sleep=sleep)
    sent_at = []
    for _ in range(50):
        await bucket.take()
        sent_at.append(now[0])
    # One second's worth at once (the burst), then ten a second.
    assert sent_at[9] == 1000.0
    assert sent_at[-1] - sent_at[0] == pytest.approx(4.0, abs=0.01)
    per_second = [sum(1 for t in sent_at if s <= t - 1000.0 < s + 1) for s in range(5)]
    # The first second: the burst plus that second's refill; after it, the rate.
    assert per_second[0] <= 20 and max(per_second[1:]) <= 11
