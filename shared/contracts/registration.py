"""What registration publishes (stream ``<NS>_REGISTRATION``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Contract, contract

EventKind = Literal["speech_contest", "fair", "festa", "volunteer_fair", "seminar"]


class CategorySummary(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    title: dict[str, str]
    capacity: int
    reentry: bool = False


@contract("registration", "event.published")
class EventPublished(Contract):
    """A civic event was created or changed. Carries what other services need to know of
    it (titles, place, time, categories); never anything personal."""

    slug: str
    kind: EventKind
    title: dict[str, str]
    venue: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str = "Asia/Tokyo"
    retention_days: int = 90
    categories: list[CategorySummary] = Field(default_factory=list)
    revision: int = 1
