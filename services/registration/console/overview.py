"""The organizer's view of events: the list of events with their numbers, and one
event's registrations (search, filters, pages; per-language and interpreter counts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from services.registration import repository
from services.registration.console import queries
from services.registration.console.formats import pick
from services.registration.console.labels import KINDS, NOTICES, STATUSES
from services.registration.console.web import UI, page
from services.registration.domain import EventDraft, FormField
from services.registration.handlers import parse_cursor
from shared.errors import NotFound, ValidationFailed
from shared.i18n import LANGUAGES

PAGE_SIZE = 50
INTERPRETER = "interpreter"  # the answer field seminars use to ask for an interpreter


# -- numbers per category ---------------------------------------------------------------
@dataclass(frozen=True)
class CategoryLine:
    code: str
    title: dict[str, str]
    review: bool
    capacity: int
    registered_people: int
    waiting_people: int
    waiting_parties: int
    pending_parties: int
    max_party_size: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.registered_people)


async def category_lines(pool: asyncpg.Pool, event: EventDraft) -> list[CategoryLine]:
    counts = {r["code"]: r for r in await repository.category_counts(pool, event.slug)}
    by_status = await queries.status_counts(pool, event.slug)
    lines = []
    for c in event.categories:
        n = counts[c.code]
        pending = by_status.get((c.code, "pending_review"))
        lines.append(
            CategoryLine(
                code=c.code,
                title=c.title,
                review=c.review,
                capacity=n["capacity"],
                registered_people=n["confirmed_people"],
                waiting_people=n["waitlist_people"],
                waiting_parties=n["waitlist_parties"],
                pending_parties=pending["parties"] if pending else 0,
                max_party_size=c.max_party_size,
            )
        )
    return lines


async def load_managed_event(ui: UI, slug: str) -> EventDraft:
    """The event, if this organizer may manage it (403 first: no probing for slugs)."""
    ui.org.require(slug)
    event = await repository.load_event(ui.rt.pool, slug)
    if event is None:
        raise NotFound()
    return event


def notice_of(ui: UI) -> str:
    code = ui.request.query.get("notice", "")
    return ui._(NOTICES[code]) if code in NOTICES else ""


# -- the list of events -----------------------------------------------------------------
@page
async def dashboard(ui: UI) -> web.StreamResponse:
    pool = ui.rt.pool
    now = datetime.now(UTC)
    current: list[dict[str, Any]] = []
    past: list[dict[str, Any]] = []
    for slug in await queries.event_slugs(pool, ui.org):
        event = await repository.load_event(pool, slug)
        if event is None:
            continue
        entry = {"event": event, "lines": await category_lines(pool, event)}
        (current if event.ends_at >= now else past).append(entry)
    past.reverse()  # the most recent first
    return ui.render(
        "dashboard.html", current=current, past=past, kinds=KINDS, notice=notice_of(ui)
    )


# -- one event's registrations ----------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    q: str | None
    status: str | None
    category: str | None
    language: str | None

    @classmethod
    def of(cls, query: Any, event: EventDraft) -> Filters:
        """Only values that can match: anything else is ignored rather than an error."""
        q = (query.get("q") or "").strip()[:100] or None
        status = query.get("status") if query.get("status") in STATUSES else None
        codes = {c.code for c in event.categories}
        category = query.get("category") if query.get("category") in codes else None
        language = query.get("language") if query.get("language") in LANGUAGES else None
        return cls(q, status, category, language)

    def query(self) -> dict[str, str]:
        pairs = {
            "q": self.q,
            "status": self.status,
            "category": self.category,
            "language": self.language,
        }
        return {k: v for k, v in pairs.items() if v}


async def fetch_rows(
    ui: UI, slug: str, filters: Filters, *, after: Any, limit: int
) -> list[asyncpg.Record]:
    return await repository.list_registrations(
        ui.rt.pool,
        slug,
        after=after,
        limit=limit,
        status=filters.status,
        category=filters.category,
        language=filters.language,
        query=filters.q,
    )


def answer_label(field: FormField | None, value: str | None, ui: UI) -> str:
    """How an answer reads for staff: a choice's label, Yes/No for a checkbox."""
    if value is None:
        return ""
    if field is not None and field.type == "checkbox":
        return ui._("Yes") if value == "true" else ui._("No")
    if field is not None and field.type == "choice":
        for ch in field.choices:
            if ch.value == value:
                return pick(ch.label, ui.lang) or value
    return value


async def interpreter_lines(ui: UI, event: EventDraft) -> list[dict[str, Any]]:
    """Registrations per value of the ``interpreter`` answer, per category that asks."""
    asking = {
        c.code: (c, next(f for f in c.fields if f.key == INTERPRETER))
        for c in event.categories
        if any(f.key == INTERPRETER for f in c.fields)
    }
    if not asking:
        return []
    lines = []
    for r in await queries.answer_counts(ui.rt.pool, event.slug, INTERPRETER):
        cat, fld = asking.get(r["category_code"], (None, None))
        lines.append(
            {
                "category": cat.title if cat else {"en": r["category_code"]},
                "value": answer_label(fld, r["value"], ui),
                "parties": r["parties"],
                "people": r["people"],
            }
        )
    return lines


@page
async def event_page(ui: UI) -> web.StreamResponse:
    slug = ui.match("slug")
    event = await load_managed_event(ui, slug)
    filters = Filters.of(ui.request.query, event)
    try:
        after = parse_cursor(ui.request.query.get("cursor"))
    except ValidationFailed:
        after = None  # a mangled link shows the first page
    rows = await fetch_rows(ui, slug, filters, after=after, limit=PAGE_SIZE + 1)
    next_query = None
    if len(rows) > PAGE_SIZE:
        last = rows[PAGE_SIZE - 1]
        cursor = f"{last['created_at'].isoformat()}|{last['id']}"
        next_query = {**filters.query(), "cursor": cursor}
    return ui.render(
        "event.html",
        event=event,
        lines=await category_lines(ui.rt.pool, event),
        rows=rows[:PAGE_SIZE],
        filters=filters,
        filter_query=filters.query(),
        paged=after is not None,
        next_query=next_query,
        languages_used=await queries.language_counts(ui.rt.pool, slug),
        interpreters=await interpreter_lines(ui, event),
        statuses=STATUSES,
        category_titles={c.code: c.title for c in event.categories},
        notice=notice_of(ui),
    )
