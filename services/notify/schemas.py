"""Notify's HTTP bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.readmodel import KnownEvent, KnownEvents

__all__ = [
    "AnnouncementStats",
    "EventSettingsIn",
    "EventSettingsOut",
    "KnownEvent",
    "KnownEvents",
    "Notification",
    "NotificationList",
    "Summary",
]


class Notification(BaseModel):
    id: str
    channel: Literal["email", "sms"]
    template: str
    language: str
    status: Literal["queued", "sent", "failed", "dead", "skipped"]
    attempts: int
    created_at: str
    sent_at: str | None
    error: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class NotificationList(BaseModel):
    items: list[Notification]


class SummaryRow(BaseModel):
    channel: str
    template: str
    status: str
    count: int


class Summary(BaseModel):
    event: str
    by_status: dict[str, int]
    items: list[SummaryRow]


class AnnouncementRow(BaseModel):
    id: str
    subject: dict[str, str]
    created_at: str
    total: int
    sent: int
    waiting: int
    dead: int
    skipped: int


class AnnouncementStats(BaseModel):
    items: list[AnnouncementRow]


class EventSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Local time on the day before the event ("HH:MM"); null: no reminder.
    reminder_time: str | None = Field(default="10:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    rally_completed: bool = False


class EventSettingsOut(BaseModel):
    event: str
    reminder_time: str | None
    rally_completed: bool
