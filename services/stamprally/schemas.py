"""Stamprally's HTTP bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.readmodel import KnownEvent, KnownEvents

__all__ = [
    "BoothCode",
    "BoothIn",
    "Card",
    "KnownEvent",
    "KnownEvents",
    "PrizeIn",
    "RallyIn",
    "RallyOut",
    "RedeemAnswer",
    "ScanIn",
    "SelfStampIn",
    "StampAnswer",
    "Stats",
]

Text = dict[str, str]
Kind = Literal["country", "food", "goods", "culture", "stage", "info", "organisation"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoothIn(_In):
    code: str = Field(min_length=1, max_length=40)
    name: Text
    kind: Kind
    description: Text = Field(default_factory=dict)


class PrizeIn(_In):
    code: str = Field(min_length=1, max_length=40)
    name: Text
    stock: int = Field(ge=0, le=1_000_000)


class RallyIn(_In):
    title: Text
    min_stamps: int = Field(ge=0, le=500)
    required_booths: list[str] = Field(default_factory=list, max_length=500)
    requires_checkin: bool = False
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    booths: list[BoothIn] = Field(min_length=1, max_length=500)
    prizes: list[PrizeIn] = Field(default_factory=list, max_length=50)


class BoothOut(BaseModel):
    code: str
    name: Text
    kind: str
    description: Text


class PrizeOut(BaseModel):
    code: str
    name: Text
    stock: int
    left: int


class RallyOut(BaseModel):
    event: str
    title: Text
    min_stamps: int
    required_booths: list[str]
    needed: int
    requires_checkin: bool
    opens_at: str | None
    closes_at: str | None
    booths: list[BoothOut]
    prizes: list[PrizeOut]


class ScanIn(_In):
    client_scan_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    qr_text: str = Field(max_length=512)
    scanned_at: datetime | None = None


class SelfStampIn(_In):
    booth_code: str = Field(min_length=1, max_length=200)


class StampAnswer(BaseModel):
    client_scan_id: str | None = None
    result: Literal["stamped", "already_stamped", "rejected"]
    reason: str | None = None
    booth: str | None = None
    stamps: int | None = None
    required: int | None = None
    missing_booths: list[str] | None = None
    completed: bool | None = None
    attendee: dict[str, Any] | None = None
    ticket_id: str | None = None


class RedeemAnswer(BaseModel):
    client_scan_id: str
    result: Literal["redeemed", "already_redeemed", "not_completed", "out_of_stock", "rejected"]
    reason: str | None = None
    prize: dict[str, Any] | None = None
    redeemed_at: str | None = None
    attendee: dict[str, Any] | None = None
    ticket_id: str | None = None


class StampOut(BaseModel):
    booth: str
    at: str


class Card(BaseModel):
    ticket_id: str
    event: str
    language: str | None
    stamps: list[StampOut]
    required: int
    required_booths: list[str]
    missing_booths: list[str]
    completed: bool
    redeemed: bool
    prize: str | None


class BoothCode(BaseModel):
    booth: str
    code: str
    refresh_in: float


class Stats(BaseModel):
    stamps_by_booth: dict[str, int]
    completed: int
    redeemed: int
    prizes_left: dict[str, int]
    completions_by_hour: dict[str, int]
    stamp_histogram: dict[str, int]
    flags: dict[str, list[dict[str, Any]]]
