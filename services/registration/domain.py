"""Registration's rules: pure, synchronous, no I/O; time passed in.

This module holds what an event and its categories must satisfy. Capacity, waiting lists
and screening join it with the registration capability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from shared.errors import FieldError

EventKind = Literal["speech_contest", "fair", "festa", "volunteer_fair", "seminar"]
FieldType = Literal["text", "choice", "checkbox", "number", "date"]

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_PARTY = 20

Text = dict[str, str]  # a multilingual text: language code → text


@dataclass(frozen=True)
class Choice:
    value: str
    label: Text


@dataclass(frozen=True)
class FormField:
    key: str
    type: FieldType
    label: Text
    required: bool = False
    choices: tuple[Choice, ...] = ()
    max_length: int = 500


@dataclass(frozen=True)
class Category:
    code: str
    title: Text
    capacity: int
    max_party_size: int = 1
    review: bool = False
    reentry: bool = False
    description: Text = field(default_factory=dict)
    fields: tuple[FormField, ...] = ()
    opens_at: datetime | None = None
    closes_at: datetime | None = None


@dataclass(frozen=True)
class EventDraft:
    slug: str
    kind: EventKind
    title: Text
    venue: Text
    starts_at: datetime
    ends_at: datetime
    categories: tuple[Category, ...]
    description: Text = field(default_factory=dict)
    venue_map_url: str | None = None
    timezone: str = "Asia/Tokyo"
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    retention_days: int = 90
    public: bool = True


def _text_errors(value: Text, name: str, max_len: int = 200) -> list[FieldError]:
    if not value or not any(value.get(lang, "").strip() for lang in ("ja", "en")):
        return [FieldError(name, "missing")]
    return [FieldError(f"{name}.{k}", "too_long") for k, v in value.items() if len(v) > max_len]


def validate_event(draft: EventDraft) -> list[FieldError]:
    """Every problem with the draft at once (empty list: valid)."""
    errs: list[FieldError] = []
    if not SLUG.match(draft.slug):
        errs.append(FieldError("slug", "invalid"))
    errs += _text_errors(draft.title, "title")
    errs += _text_errors(draft.venue, "venue")
    if draft.ends_at <= draft.starts_at:
        errs.append(FieldError("ends_at", "invalid"))
    if draft.starts_at.tzinfo is None or draft.ends_at.tzinfo is None:
        errs.append(FieldError("starts_at", "invalid"))
    opens, closes = draft.registration_opens_at, draft.registration_closes_at
    if opens and closes and closes <= opens:
        errs.append(FieldError("registration_closes_at", "invalid"))
    if not 1 <= draft.retention_days <= 3650:
        errs.append(FieldError("retention_days", "invalid"))
    if not draft.categories:
        errs.append(FieldError("categories", "missing"))
    seen: set[str] = set()
    for i, cat in enumerate(draft.categories):
        at = f"categories.{i}"
        if not CODE.match(cat.code):
            errs.append(FieldError(f"{at}.code", "invalid"))
        elif cat.code in seen:
            errs.append(FieldError(f"{at}.code", "duplicate"))
        seen.add(cat.code)
        errs += _text_errors(cat.title, f"{at}.title")
        if cat.capacity < 0:
            errs.append(FieldError(f"{at}.capacity", "invalid"))
        if not 1 <= cat.max_party_size <= MAX_PARTY:
            errs.append(FieldError(f"{at}.max_party_size", "invalid"))
        keys: set[str] = set()
        for j, f in enumerate(cat.fields):
            fat = f"{at}.fields.{j}"
            if not KEY.match(f.key) or f.key in keys:
                errs.append(FieldError(f"{fat}.key", "invalid"))
            keys.add(f.key)
            errs += _text_errors(f.label, f"{fat}.label", 300)
            if f.type == "choice" and not f.choices:
                errs.append(FieldError(f"{fat}.choices", "missing"))
    return errs


def registration_window(draft: EventDraft, now: datetime) -> tuple[datetime, datetime]:
    """When registration opens (default: now) and closes (default: when the event starts)."""
    return (draft.registration_opens_at or now, draft.registration_closes_at or draft.starts_at)
