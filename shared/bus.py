"""NATS JetStream: connect, and ensure streams and durable consumers with their declared
configuration. An existing stream or durable is updated to the declared config, never
silently kept as it was."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.js.api as api
import nats.js.errors
from nats.aio.client import Client as NATS

from shared.events import PUBLISHERS, stream_name, stream_subjects

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0
STREAM_MAX_AGE_SECONDS = 30 * 24 * 3600.0


async def connect(servers: list[str], name: str, *, connect_timeout: float = 5.0) -> NATS:
    """Connect and keep reconnecting forever: a service outlives a NATS restart."""

    async def _error_cb(exc: Exception) -> None:
        logger.warning("nats error", extra={"error": type(exc).__name__, "client": name})

    async def _disconnected_cb() -> None:
        logger.warning("nats disconnected", extra={"client": name})

    async def _reconnected_cb() -> None:
        logger.info("nats reconnected", extra={"client": name})

    return await nats.connect(
        servers=servers,
        name=name,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        error_cb=_error_cb,
        disconnected_cb=_disconnected_cb,
        reconnected_cb=_reconnected_cb,
        pending_size=8 * 1024 * 1024,
    )


# What a stream's declared config decides; anything else NATS fills in for itself.
_DECLARED = (
    "subjects",
    "storage",
    "retention",
    "duplicate_window",
    "max_age",
    "num_replicas",
    "allow_atomic",
)


def _differs(declared: api.StreamConfig, current: api.StreamConfig) -> bool:
    def norm(v: Any) -> Any:
        return sorted(v) if isinstance(v, list) else v

    return any(
        norm(getattr(declared, f)) != norm(getattr(current, f))
        for f in _DECLARED
        if getattr(declared, f) is not None
    )


async def _ensure(nc: NATS, config: api.StreamConfig, *, attempts: int = 8) -> api.StreamInfo:
    """Create the stream, or update it when its declared fields differ. Updating only on a
    difference matters in a cluster: replicas of every service start together, and
    identical updates of an R3 stream queue up behind each other in the meta layer.
    A timeout (a cluster still electing its leaders) is retried with backoff."""
    js = nc.jetstream()
    assert config.name is not None
    delay = 0.25
    for attempt in range(attempts):
        try:
            try:
                info = await js.stream_info(config.name)
            except nats.js.errors.NotFoundError:
                try:
                    return await js.add_stream(config)
                except nats.js.errors.BadRequestError:
                    info = await js.stream_info(config.name)  # another replica made it
            if _differs(config, info.config):
                return await js.update_stream(config)
            return info
        except nats.errors.TimeoutError:
            if attempt == attempts - 1:
                raise
            logger.warning("JetStream did not answer; retrying", extra={"stream": config.name})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)
    raise AssertionError("unreachable")


async def ensure_stream(
    nc: NATS, namespace: str, publisher: str, *, replicas: int = 1
) -> api.StreamInfo:
    """The publisher's stream: file storage, duplicate window 2 min, limits retention, and
    atomic batches allowed (the outbox relay's, shared/outbox.py; nats-server 2.12+)."""
    config = api.StreamConfig(
        name=stream_name(namespace, publisher),
        subjects=stream_subjects(namespace, publisher),
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=STREAM_MAX_AGE_SECONDS,
        num_replicas=replicas,
        allow_atomic=True,
    )
    return await _ensure(nc, config)


async def ensure_deadletter_stream(nc: NATS, namespace: str, *, replicas: int = 1) -> None:
    config = api.StreamConfig(
        name=f"{namespace}_DEADLETTER".upper(),
        subjects=[f"{namespace}.deadletter.>"],
        storage=api.StorageType.FILE,
        max_age=STREAM_MAX_AGE_SECONDS,
        num_replicas=replicas,
    )
    await _ensure(nc, config)


async def ensure_all_streams(nc: NATS, namespace: str, *, replicas: int = 1) -> None:
    for publisher in PUBLISHERS:
        await ensure_stream(nc, namespace, publisher, replicas=replicas)
    await ensure_deadletter_stream(nc, namespace, replicas=replicas)


@dataclass(frozen=True)
class ConsumerSpec:
    """One durable per (consuming service, contract)."""

    service: str
    publisher: str
    event_type: str
    max_deliver: int = 8
    ack_wait: float = 30.0
    max_ack_pending: int = 1000
    backoff: tuple[float, ...] = field(default=())

    def durable(self) -> str:
        return f"{self.service}__{self.publisher}__{self.event_type.replace('.', '_')}"

    def filter_subject(self, namespace: str) -> str:
        return f"{namespace}.{self.publisher}.{self.event_type}"

    def stream(self, namespace: str) -> str:
        return stream_name(namespace, self.publisher)

    def deadletter_subject(self, namespace: str) -> str:
        return f"{namespace}.deadletter.{self.service}.{self.publisher}.{self.event_type}"


async def ensure_consumer(nc: NATS, namespace: str, spec: ConsumerSpec) -> api.ConsumerInfo:
    """Create the durable, or update it to ``spec`` (NATS ≥ 2.10 create-or-update)."""
    js = nc.jetstream()
    config = api.ConsumerConfig(
        durable_name=spec.durable(),
        name=spec.durable(),
        filter_subject=spec.filter_subject(namespace),
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait,
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
        backoff=list(spec.backoff) or None,
    )
    return await js.add_consumer(spec.stream(namespace), config)


async def wait_connected(nc: NATS, timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not nc.is_connected:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def header(msg: Any, name: str) -> str | None:
    h = getattr(msg, "headers", None) or {}
    value = h.get(name)
    return str(value) if value is not None else None
