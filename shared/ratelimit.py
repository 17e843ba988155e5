"""Per-client rate limits (token buckets, in process memory).

Each replica limits on its own, so N replicas allow N times the rate: the limits are set
for what one person can plausibly do, with that headroom in mind. ``TOMONI_RATE_LIMIT=0``
switches them off for local load tests.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from shared.errors import RateLimited


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    rate_per_minute: float
    burst: int
    enabled: bool = True
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def check(self, client: str, now: float | None = None) -> None:
        """Raise :class:`RateLimited` if ``client`` has no token left, taking none."""
        if not self.enabled:
            return
        b = self._buckets.get(client)
        if b is None:
            return
        now = time.monotonic() if now is None else now
        per_second = self.rate_per_minute / 60.0
        tokens = min(self.burst, b.tokens + (now - b.stamp) * per_second)
        if tokens < 1.0:
            raise RateLimited(retry_after=max(1, math.ceil((1.0 - tokens) / per_second)))

    def hit(self, client: str, now: float | None = None) -> None:
        """Take one token for ``client`` or raise :class:`RateLimited` with Retry-After."""
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        per_second = self.rate_per_minute / 60.0
        b = self._buckets.get(client)
        if b is None:
            b = self._buckets[client] = _Bucket(float(self.burst), now)
        b.tokens = min(self.burst, b.tokens + (now - b.stamp) * per_second)
        b.stamp = now
        if b.tokens < 1.0:
            raise RateLimited(retry_after=max(1, math.ceil((1.0 - b.tokens) / per_second)))
        b.tokens -= 1.0
        if len(self._buckets) > 50_000:
            self._forget_full(now)

    def _forget_full(self, now: float) -> None:
        per_second = self.rate_per_minute / 60.0
        for key in [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * per_second >= self.burst
        ]:
            del self._buckets[key]
