"""Stamprally's HTTP bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class KnownEvent(BaseModel):
    slug: str
    title: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    revision: int


class KnownEvents(BaseModel):
    items: list[KnownEvent]
