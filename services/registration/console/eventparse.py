"""Reading the event form: a saved event → the form's values, the posted form → the
API schema's input, and every problem with it at once (see ``check``). Kept apart from the
page handlers in ``eventform`` so each reads at a glance."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from services.registration import repository
from services.registration.console import queries
from services.registration.console.web import UI
from services.registration.domain import EventDraft, validate_event
from services.registration.handlers import draft_from
from services.registration.schemas import EventIn
from shared.errors import FieldError
from shared.http import field_errors_from
from shared.i18n import LANGUAGES

BLANK_ROWS = 5  # a new event offers five category rows; an edit, three more than it has
EXTRA_ROWS = 3
MAX_ROWS = 50
TEXTS = ("title", "venue", "description")
TIMES = ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def to_local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime(LOCAL_FORMAT) if value else ""


def from_local(text: str, tz: ZoneInfo) -> datetime:
    """A wall-clock time in the event's zone (raises ValueError)."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def values_of(event: EventDraft) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The form's values for a saved event: its fields, and one row per category."""
    tz = ZoneInfo(event.timezone)
    values: dict[str, Any] = {"slug": event.slug, "kind": event.kind, "public": event.public}
    for name in TEXTS:
        for lang, text in getattr(event, name).items():
            values[f"{name}.{lang}"] = text
    for name in TIMES:
        values[name] = to_local(getattr(event, name), tz)
    rows = [
        {
            "orig": c.code,
            "code": c.code,
            "title_ja": c.title.get("ja", ""),
            "title_en": c.title.get("en", ""),
            "capacity": str(c.capacity),
            "max_party_size": str(c.max_party_size),
            "review": c.review,
            "reentry": c.reentry,
        }
        for c in event.categories
    ]
    return values, rows + [{} for _ in range(EXTRA_ROWS)]


def rows_from_form(ui: UI) -> list[dict[str, Any]]:
    try:
        count = min(max(int(ui.value("rows")), 0), MAX_ROWS)
    except ValueError:
        count = BLANK_ROWS
    rows = []
    for i in range(count):
        p = f"cat{i}."
        row: dict[str, Any] = {
            k: ui.value(p + k)
            for k in ("orig", "code", "title_ja", "title_en", "capacity", "max_party_size")
        }
        row.update({k: p + k in ui.form for k in ("review", "reentry", "remove")})
        if row["orig"]:
            row["code"] = row["orig"]  # a saved category's code is its identity
        rows.append(row)
    return rows


class Parsed:
    """The form turned into ``EventIn``'s input, remembering which form row each
    category came from so the domain's errors land next to the right row."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.row_of: list[int] = []
        self.errors: list[FieldError] = []


async def parse_form(ui: UI, rows: list[dict[str, Any]], old: EventDraft | None) -> Parsed:
    tz = ZoneInfo(old.timezone if old else "Asia/Tokyo")
    out = Parsed()
    data = out.data
    data["slug"] = old.slug if old else ui.value("slug")
    data["kind"] = ui.value("kind")
    data["public"] = "public" in ui.form
    for name in TEXTS:
        data[name] = {lang: ui.value(f"{name}.{lang}") for lang in LANGUAGES}
        data[name] = {k: v for k, v in data[name].items() if v}
    for name in TIMES:
        text = ui.value(name)
        if not text:
            if name in ("starts_at", "ends_at"):
                out.errors.append(FieldError(name, "missing"))
            else:
                data[name] = None
            continue
        try:
            data[name] = from_local(text, tz)
        except ValueError:
            out.errors.append(FieldError(name, "invalid"))
    if old is not None:
        data.update(
            venue_map_url=old.venue_map_url,
            timezone=old.timezone,
            retention_days=old.retention_days,
        )
    saved = {c.code: c for c in old.categories} if old else {}
    counts = (
        {r["code"]: r for r in await repository.category_counts(ui.rt.pool, old.slug)}
        if old
        else {}
    )
    categories = []
    for i, row in enumerate(rows):
        before = saved.get(row["orig"]) if row["orig"] else None
        if before is not None and row["remove"]:
            assert old is not None
            if await queries.registrations_in(ui.rt.pool, old.slug, before.code):
                out.errors.append(FieldError(f"cat{i}.remove", "has_registrations"))
                row["remove"] = False
            else:
                continue
        typed = [row[k] for k in ("code", "title_ja", "title_en", "capacity")]
        if before is None and not any(typed):
            continue  # a blank row
        title = dict(before.title) if before else {}
        title.update({"ja": row["title_ja"], "en": row["title_en"]})
        cat: dict[str, Any] = {
            "code": row["code"],
            "title": {k: v for k, v in title.items() if v},
            "review": row["review"],
            "reentry": row["reentry"],
        }
        if not row["capacity"]:
            out.errors.append(FieldError(f"cat{i}.capacity", "missing"))
            cat["capacity"] = 0
        else:
            cat["capacity"] = row["capacity"]
            used = counts.get(row["code"])
            wanted = int(row["capacity"]) if row["capacity"].isdigit() else None
            if used and wanted is not None and wanted < used["confirmed_people"]:
                out.errors.append(FieldError(f"cat{i}.capacity", "below_confirmed"))
        if row["max_party_size"]:
            cat["max_party_size"] = row["max_party_size"]
        if before is not None:
            cat.update(
                description=before.description,
                opens_at=before.opens_at,
                closes_at=before.closes_at,
                fields=[asdict(f) for f in before.fields],
                allow_duplicates=before.allow_duplicates,
            )
        categories.append(cat)
        out.row_of.append(i)
    data["categories"] = categories
    return out


def form_field(parsed: Parsed, error: FieldError) -> FieldError:
    """``categories.2.title.ja`` → ``cat4.title_ja``; ``title`` → ``title.ja``."""
    parts = error.field.split(".")
    if parts[0] == "categories" and len(parts) >= 3 and parts[1].isdigit():
        k = int(parts[1])
        row = parsed.row_of[k] if k < len(parsed.row_of) else 0
        name = {"title": "title_ja", "fields": "code", "description": "code"}.get(
            parts[2], parts[2]
        )
        return FieldError(f"cat{row}.{name}", error.code)
    if parts[0] in TEXTS and len(parts) == 1:
        return FieldError(f"{parts[0]}.ja", error.code)
    return error


def _stand_ins(data: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """A copy of the form's data with harmless values where a field could not be read,
    and the names whose domain errors would then be about the stand-in, not the input."""
    probe = {**data, "categories": [dict(c) for c in data["categories"]]}
    replaced: set[str] = set()
    if len(str(probe.get("slug", ""))) < 2:
        probe["slug"], replaced = "xx", replaced | {"slug"}
    start = probe.get("starts_at") or datetime(2000, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
    for name in TIMES:
        if name not in probe:
            probe[name] = {"starts_at": start, "ends_at": start + timedelta(hours=1)}.get(name)
            replaced |= {name, "ends_at", "registration_closes_at"}
    if not probe["categories"]:
        probe["categories"] = [{"code": "x", "title": {"ja": "x"}, "capacity": 0}]
    for k, cat in enumerate(probe["categories"]):
        for name, fallback in (("capacity", 0), ("max_party_size", 1)):
            if name in cat and not str(cat[name]).isdigit():
                cat[name] = fallback
                replaced.add(f"categories.{k}.{name}")
    return probe, replaced


def check(parsed: Parsed) -> tuple[EventDraft | None, list[FieldError]]:
    """The draft, if the form could be read, and every problem with it at once: what the
    form could not parse, what the API schema refuses, what the domain's rules refuse
    (checked against stand-ins where a field was unreadable, so the rest still is)."""
    errors = list(parsed.errors)
    try:
        draft = draft_from(EventIn.model_validate(parsed.data))
    except ValidationError as exc:
        errors += field_errors_from(exc)
        draft = None
    if draft is not None:
        return draft, errors + validate_event(draft)
    probe, replaced = _stand_ins(parsed.data)
    try:
        stand_in = draft_from(EventIn.model_validate(probe))
    except ValidationError:
        return None, errors
    return None, errors + [e for e in validate_event(stand_in) if e.field not in replaced]
