"""Live counts on core NATS (never a stream: they can be lost and rebuilt).

A service calls :meth:`LiveFeed.touch` after a write that moved a number; at most every
``interval`` seconds per event it computes a snapshot (from counters, not table scans)
and publishes it on ``<ns>.live.<event>.<service>``. It also answers requests for the
current snapshot on ``<ns>.live.<service>.get`` (request data: the event slug), so a new
board shows the truth at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

logger = logging.getLogger(__name__)

Snapshot = Callable[[str], Awaitable[dict[str, Any]]]


def live_subject(namespace: str, slug: str, service: str) -> str:
    return f"{namespace}.live.{slug}.{service}"


def request_subject(namespace: str, service: str) -> str:
    return f"{namespace}.live.{service}.get"


class LiveFeed:
    def __init__(
        self, nc: NATS, namespace: str, service: str, snapshot: Snapshot, interval: float = 0.2
    ) -> None:
        self.nc = nc
        self.namespace = namespace
        self.service = service
        self.snapshot = snapshot
        self.interval = interval
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._last: dict[str, float] = {}
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(
            request_subject(self.namespace, self.service), cb=self._answer
        )

    async def stop(self) -> None:
        for t in self._pending.values():
            t.cancel()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    def touch(self, slug: str) -> None:
        """A number for ``slug`` moved: publish a snapshot soon (throttled)."""
        if slug in self._pending:
            return
        wait = max(0.0, self._last.get(slug, 0.0) + self.interval - time.monotonic())
        self._pending[slug] = asyncio.get_running_loop().create_task(self._publish(slug, wait))

    async def _publish(self, slug: str, wait: float) -> None:
        try:
            if wait:
                await asyncio.sleep(wait)
            self._last[slug] = time.monotonic()
            del self._pending[slug]
            data = await self.snapshot(slug)
            await self.nc.publish(
                live_subject(self.namespace, slug, self.service),
                json.dumps(data, default=str).encode(),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pending.pop(slug, None)
            logger.warning("live snapshot failed", extra={"error": type(exc).__name__})

    async def _answer(self, msg: Msg) -> None:
        slug = msg.data.decode(errors="replace")[:80]
        try:
            data = await self.snapshot(slug)
        except Exception as exc:
            logger.warning("live snapshot request failed", extra={"error": type(exc).__name__})
            return
        with contextlib.suppress(Exception):
            await msg.respond(json.dumps(data, default=str).encode())
