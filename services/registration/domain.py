"""Registration's rules: pure, synchronous, no I/O; time passed in.

This module holds what an event and its categories must satisfy. Capacity, waiting lists
and screening join it with the registration capability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from shared.errors import FieldError

EventKind = Literal["speech_contest", "fair", "festa", "volunteer_fair", "seminar"]
FieldType = Literal["text", "choice", "checkbox", "number", "date"]

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_PARTY = 20
# Slugs that are words in the pages' own paths (/console/events/new, /events/static/…).
RESERVED_SLUGS = frozenset({"new", "static", "r", "edit", "live"})

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
    # One active registration per email or phone, unless the organizer allows more
    # (e.g. a teacher registering several pupils with one address).
    allow_duplicates: bool = False


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
    if not SLUG.match(draft.slug) or draft.slug in RESERVED_SLUGS:
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


# -- registrations ----------------------------------------------------------------------
Status = Literal["confirmed", "waitlisted", "pending_review", "rejected", "cancelled"]
NotifyBy = Literal["email", "sms", "both", "none"]
ACTIVE: frozenset[str] = frozenset({"confirmed", "waitlisted", "pending_review"})
MAX_NAME = 100
MAX_TEXT_ANSWER = 1000


@dataclass(frozen=True)
class Applicant:
    """A registration request that passed every check, normalized."""

    category: str
    name: str
    name_kana: str | None
    email: str | None
    phone: str | None  # E.164
    language: str
    party_size: int
    answers: dict[str, object]
    notify_by: NotifyBy


def registration_closed_reason(
    opens_at: datetime | None, closes_at: datetime | None, starts_at: datetime, now: datetime
) -> str | None:
    """``registration_not_open`` / ``registration_closed`` / None (open).
    Registration opens at ``opens_at`` (default: always) and closes at ``closes_at``
    (default: when the event starts)."""
    if opens_at is not None and now < opens_at:
        return "registration_not_open"
    if now >= (closes_at or starts_at):
        return "registration_closed"
    return None


def check_answers(
    fields: tuple[FormField, ...], answers: dict[str, object]
) -> tuple[dict[str, object], list[FieldError]]:
    """Answers keyed by field key, checked against the category's form."""
    errs: list[FieldError] = []
    clean: dict[str, object] = {}
    known = {f.key for f in fields}
    for key in answers:
        if key not in known:
            errs.append(FieldError(f"answers.{key}", "unknown_field"))
    for f in fields:
        at = f"answers.{f.key}"
        value = answers.get(f.key)
        if value is None or value == "" or (f.type == "checkbox" and value is False and f.required):
            if f.required:
                errs.append(FieldError(at, "missing"))
            continue
        if f.type == "text":
            if not isinstance(value, str):
                errs.append(FieldError(at, "invalid"))
            elif len(value) > min(f.max_length, MAX_TEXT_ANSWER):
                errs.append(FieldError(at, "too_long"))
            else:
                clean[f.key] = value.strip()
        elif f.type == "choice":
            if value not in {c.value for c in f.choices}:
                errs.append(FieldError(at, "invalid"))
            else:
                clean[f.key] = value
        elif f.type == "checkbox":
            if not isinstance(value, bool):
                errs.append(FieldError(at, "invalid"))
            else:
                clean[f.key] = value
        elif f.type == "number":
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (-1_000_000 <= value <= 1_000_000)
            ):
                errs.append(FieldError(at, "invalid"))
            else:
                clean[f.key] = value
        elif f.type == "date":
            try:
                clean[f.key] = date.fromisoformat(str(value)).isoformat()
            except ValueError:
                errs.append(FieldError(at, "invalid"))
    return clean, errs


def first_status(review: bool, fits: bool) -> Status:
    if review:
        return "pending_review"
    return "confirmed" if fits else "waitlisted"


def plan_promotions(free: int, waiting: list[tuple[object, int]]) -> list[object]:
    """Who a freed place goes to: the earliest waiting parties that fit, in order; a
    party too big for what is left keeps its place and the next one is considered."""
    chosen: list[object] = []
    for key, size in waiting:
        if size <= free:
            chosen.append(key)
            free -= size
        if free <= 0:
            break
    return chosen


def can_cancel(status: str) -> bool:
    return status in ACTIVE


def can_approve(status: str) -> bool:
    return status == "pending_review"


def can_reject(status: str) -> bool:
    return status in ACTIVE


def display_name(name: str) -> str:
    """What a volunteer at the gate sees: the name as written, shortened."""
    name = " ".join(name.split())
    return name if len(name) <= 40 else name[:39] + "…"


def normalize_email(text: str) -> str:
    """A syntactically valid address, domain lower-cased (raises ValueError)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(text.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def normalize_phone(text: str) -> str:
    """E.164; Japanese numbers may be written without +81 (090-1234-5678)."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text.strip(), "JP")
    except phonenumbers.NumberParseException:
        raise ValueError("unparsable") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("invalid")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
