"""Registration's HTTP bodies (the contract of API.md), validated with pydantic."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = dict[str, str]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChoiceIn(_In):
    value: str = Field(min_length=1, max_length=60)
    label: Text


class FieldIn(_In):
    key: str = Field(min_length=1, max_length=40)
    type: Literal["text", "choice", "checkbox", "number", "date"]
    label: Text
    required: bool = False
    choices: list[ChoiceIn] = Field(default_factory=list, max_length=100)
    max_length: int = Field(default=500, ge=1, le=1000)


class CategoryIn(_In):
    code: str = Field(min_length=1, max_length=40)
    title: Text
    description: Text = Field(default_factory=dict)
    capacity: int = Field(ge=0, le=1_000_000)
    review: bool = False
    reentry: bool = False
    max_party_size: int = Field(default=1, ge=1, le=20)
    fields: list[FieldIn] = Field(default_factory=list, max_length=50)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    allow_duplicates: bool = False


class EventIn(_In):
    slug: str = Field(min_length=2, max_length=63)
    title: Text
    description: Text = Field(default_factory=dict)
    kind: Literal["speech_contest", "fair", "festa", "volunteer_fair", "seminar"]
    venue: Text
    venue_map_url: str | None = Field(default=None, max_length=500)
    starts_at: datetime
    ends_at: datetime
    timezone: str = Field(default="Asia/Tokyo", max_length=64)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    retention_days: int = Field(default=90, ge=1, le=3650)
    public: bool = True
    categories: list[CategoryIn] = Field(min_length=1, max_length=50)


class CategoryOut(BaseModel):
    code: str
    title: Text
    description: Text
    capacity: int
    remaining: int
    waitlist_length: int
    waitlist_people: int
    registration_open: bool
    review: bool
    reentry: bool
    max_party_size: int
    fields: list[dict[str, Any]]


class EventOut(BaseModel):
    slug: str
    kind: str
    title: Text
    description: Text
    venue: Text
    venue_map_url: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    categories: list[CategoryOut]


class EventList(BaseModel):
    events: list[EventOut]


class RegistrationIn(_In):
    category: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    name_kana: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    language: str = Field(min_length=2, max_length=8)
    party_size: int = Field(default=1, ge=1, le=20)
    answers: dict[str, Any] = Field(default_factory=dict)
    notify_by: Literal["email", "sms", "both"] | None = None


class TicketOut(BaseModel):
    id: str
    qr_text: str
    qr_png_url: str | None = None
    qr_svg_url: str | None = None


class RegistrationCreated(BaseModel):
    id: str
    status: Literal["confirmed", "waitlisted", "pending_review"]
    waitlist_position: int | None = None
    manage_url: str
    secret: str
    ticket: TicketOut | None = None


class RegistrationOut(BaseModel):
    id: str
    event: str
    category: str
    status: str
    name: str
    name_kana: str | None
    email: str | None
    phone: str | None
    language: str
    party_size: int
    answers: dict[str, Any]
    notify_by: str
    waitlist_position: int | None
    created_at: str
    ticket: TicketOut | None


class RegistrationRow(BaseModel):
    id: str
    status: str
    category: str
    name: str
    name_kana: str | None
    email: str | None
    phone: str | None
    language: str
    party_size: int
    waitlist_position: int | None
    created_at: str
    answers: dict[str, Any]


class RegistrationPage(BaseModel):
    items: list[RegistrationRow]
    next_cursor: str | None


class LoginIn(_In):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class LoginOut(BaseModel):
    token: str
    expires_at: datetime


class OrganizerIn(_In):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=10, max_length=200)
    events: list[str] = Field(default_factory=list, max_length=100)


class OrganizerOut(BaseModel):
    id: str
    email: str
    role: str
    events: list[str]


class Key(BaseModel):
    kid: str
    alg: Literal["Ed25519"]
    public_key: str


class Keys(BaseModel):
    keys: list[Key]


class ChangeIn(_In):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=8)
    party_size: int | None = Field(default=None, ge=1, le=20)
    notify_by: Literal["email", "sms", "both"] | None = None


class DeviceIn(_In):
    role: Literal["gate", "booth", "prize_desk"]
    place: str = Field(min_length=1, max_length=40)
    label: str = Field(default="", max_length=100)


class PairingOut(BaseModel):
    device_id: str
    pairing_code: str
    pairing_url: str
    expires_at: datetime


class PairIn(_In):
    pairing_code: str = Field(min_length=4, max_length=20)


class PairOut(BaseModel):
    device_token: str
    role: str
    event: str
    place: str
    expires_at: datetime


class DeviceOut(BaseModel):
    id: str
    role: str
    place: str
    label: str
    state: Literal["waiting", "paired", "revoked"]
    paired_at: str | None
    expires_at: str


class DeviceList(BaseModel):
    items: list[DeviceOut]


class AnnouncementIn(_In):
    subject: Text
    body: Text


class AnnouncementOut(BaseModel):
    id: str
    event: str
    subject: Text
    body: Text


class ErasedOut(BaseModel):
    id: str
    erased_at: datetime


class ExportedTicket(BaseModel):
    id: str
    status: str
    revision: int
    issued_at: datetime
    revoked_at: datetime | None


class PersonalDataOut(BaseModel):
    """What registration holds about one person (empty strings and nulls once erased)."""

    id: str
    event_slug: str
    category_code: str
    status: str
    name: str
    name_kana: str | None
    email: str | None
    phone: str | None
    language: str
    party_size: int
    notify_by: str
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None
    answers: dict[str, Any]
    tickets: list[ExportedTicket]
    note: str
