"""The one envelope every bus message travels in, and the contract registry.

A contract is a pydantic payload model declared in ``shared/contracts/<publisher>.py`` with
``@contract(publisher, type, version)``. The subject of a message is
``<namespace>.<publisher>.<type>`` (``tomoni.registration.ticket.issued``). Contracts change
additively; consumers ignore unknown fields (``extra="ignore"``).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.ids import uuid7

PUBLISHERS = ("registration", "checkin", "stamprally", "notify")


class Contract(BaseModel):
    """Base of every payload. Frozen; unknown fields ignored so contracts can grow."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    publisher: ClassVar[str]
    event_type: ClassVar[str]
    version: ClassVar[int]


C = TypeVar("C", bound=type[Contract])

_REGISTRY: dict[tuple[str, str], type[Contract]] = {}


def contract(publisher: str, event_type: str, version: int = 1) -> Callable[[C], C]:
    if publisher not in PUBLISHERS:
        raise ValueError(f"unknown publisher {publisher}")

    def register(cls: C) -> C:
        cls.publisher = publisher
        cls.event_type = event_type
        cls.version = version
        key = (publisher, event_type)
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ValueError(f"contract {key} declared twice")
        _REGISTRY[key] = cls
        return cls

    return register


def contract_for(publisher: str, event_type: str) -> type[Contract]:
    return _REGISTRY[(publisher, event_type)]


class Envelope(BaseModel):
    """What goes on the wire. ``event`` is the civic event's slug (``None`` for global facts)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID
    type: str
    publisher: str
    version: int
    occurred_at: datetime
    event: str | None = None
    correlation_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def subject(self, namespace: str) -> str:
        return f"{namespace}.{self.publisher}.{self.type}"

    def parse(self, model: builtins.type[Contract]) -> Any:
        """The payload as its contract model (raises pydantic.ValidationError)."""
        return model.model_validate(self.payload)


def envelope_for(
    payload: Contract,
    *,
    event: str | None,
    correlation_id: str | None = None,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    cls = type(payload)
    return Envelope(
        id=event_id or uuid7(),
        type=cls.event_type,
        publisher=cls.publisher,
        version=cls.version,
        occurred_at=occurred_at or datetime.now(UTC),
        event=event,
        correlation_id=correlation_id,
        payload=payload.model_dump(mode="json"),
    )


def stream_name(namespace: str, publisher: str) -> str:
    """One stream per publishing service: ``TOMONI_REGISTRATION``."""
    return f"{namespace}_{publisher}".upper()


def stream_subjects(namespace: str, publisher: str) -> list[str]:
    return [f"{namespace}.{publisher}.>"]
