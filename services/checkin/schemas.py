"""Checkin's HTTP bodies (API.md: Volunteer devices, Live counts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 500


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_scan_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    qr_text: str = Field(max_length=512)
    direction: Literal["in", "out"] = "in"
    scanned_at: datetime | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scans: list[ScanIn] = Field(max_length=MAX_BATCH)


class Attendee(BaseModel):
    display_name: str | None
    party_size: int
    category: str | None
    language: str | None


class ScanOut(BaseModel):
    client_scan_id: str
    result: Literal["admitted", "exited", "already_admitted", "rejected"]
    reason: (
        Literal[
            "invalid_signature",
            "unknown_ticket",
            "cancelled",
            "wrong_event",
            "not_admitted_yet",
            "device_revoked",
        ]
        | None
    ) = None
    message: str
    attendee: Attendee | None = None
    first_gate: str | None = None
    first_at: str | None = None


class BatchOut(BaseModel):
    results: list[ScanOut]


class GateCounts(BaseModel):
    admitted_people: int
    inside_people: int
    scans_last_minute: int
    last_scan_at: str | None = None


class Counts(BaseModel):
    admitted_parties: int
    admitted_people: int
    inside_people: int
    by_gate: dict[str, GateCounts]
    scans_last_minute: int
    arrivals_by_5min: dict[str, int] = {}  # "HH:MM" of arrivals_day → people
    arrivals_day: str | None = None  # the latest local day with arrivals (YYYY-MM-DD)


class DeviceOut(BaseModel):
    device_id: str
    event: str
    role: str
    place: str
    event_title: dict[str, str] | None


class Revoked(BaseModel):
    tickets: list[str]


class Key(BaseModel):
    kid: str
    alg: Literal["Ed25519"]
    public_key: str


class Keys(BaseModel):
    keys: list[Key]
