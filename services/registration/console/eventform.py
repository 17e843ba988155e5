"""Creating and changing an event from a form.

The form is parsed into the API's own schema (``EventIn``) and then into a draft with
``handlers.draft_from``, so the console and the API accept exactly the same events and
``service.save_event`` applies the same rules. Categories are a fixed number of rows (no
script needed to add one). What the form does not show — a category's questions, its
description and own window, titles in other languages, the event's map link, time zone
and retention — is carried over unchanged from the saved event.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.registration import repository, service
from services.registration.console import queries
from services.registration.console.eventparse import (
    BLANK_ROWS,
    check,
    form_field,
    parse_form,
    rows_from_form,
    values_of,
)
from services.registration.console.labels import KINDS, field_messages
from services.registration.console.overview import load_managed_event
from services.registration.console.web import PREFIX, UI, page, redirect, with_notice
from services.registration.domain import EventDraft
from shared.errors import FieldError, ValidationFailed
from shared.i18n import LANGUAGE_NAMES, LANGUAGES


async def _save(ui: UI, old: EventDraft | None) -> web.StreamResponse:
    rows = rows_from_form(ui)
    parsed = await parse_form(ui, rows, old)
    draft, errors = check(parsed)
    slug = parsed.data["slug"]
    if old is None and slug == "new":
        errors.append(FieldError("slug", "exists"))  # /console/events/new is the form
    elif old is None and slug and await repository.event_exists(ui.rt.pool, slug):
        errors.append(FieldError("slug", "exists"))
    if draft is not None and not errors:
        try:
            await service.save_event(ui.rt, draft)
        except ValidationFailed as exc:
            errors += exc.errors
    if errors or draft is None:
        messages = field_messages([form_field(parsed, e) for e in errors], ui._)
        values: dict[str, Any] = {
            k: v for k, v in ui.form.items() if isinstance(v, str) and k != "csrf"
        }
        values["public"] = "public" in ui.form
        if old is not None:
            values["slug"] = old.slug
        return _page(ui, old, values, rows, messages, status=422)
    if old is None and ui.org.role != "admin":
        await queries.assign_event(ui.rt.pool, ui.org.id, draft.slug)
    return redirect(with_notice(f"{PREFIX}/events/{draft.slug}", "saved"))


def form_labels(ui: UI, rows: int) -> dict[str, str]:
    """Field name → label, in the order of the page, for the list of errors."""
    labels = {"slug": ui._("Address name"), "kind": ui._("Kind of event")}
    for lang in LANGUAGES:
        for key, label in (("title", "Title"), ("venue", "Venue"), ("description", "Description")):
            labels[f"{key}.{lang}"] = f"{ui._(label)} ({LANGUAGE_NAMES[lang]})"
    labels.update(
        starts_at=ui._("Starts"),
        ends_at=ui._("Ends"),
        registration_opens_at=ui._("Registration opens"),
        registration_closes_at=ui._("Registration closes"),
        categories=ui._("Categories"),
    )
    for i in range(rows):
        row = ui._("Category %(n)s", n=i + 1)
        for key, label in (
            ("code", "Code"),
            ("title_ja", "Title (Japanese)"),
            ("title_en", "Title (English)"),
            ("capacity", "Capacity (people)"),
            ("max_party_size", "Largest party"),
            ("remove", "Remove this category"),
        ):
            labels[f"cat{i}.{key}"] = f"{row}, {ui._(label)}"
    return labels


def _page(
    ui: UI,
    old: EventDraft | None,
    values: dict[str, Any],
    rows: list[dict[str, Any]],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> web.Response:
    return ui.render(
        "event_form.html",
        status=status,
        event=old,
        values=values,
        rows=rows,
        errors=errors,
        labels=form_labels(ui, len(rows)),
        kinds=KINDS,
        text_languages=[lang for lang in LANGUAGES if lang not in ("ja", "en")],
    )


@page
async def new_event_form(ui: UI) -> web.StreamResponse:
    values: dict[str, Any] = {"kind": "fair", "public": True}
    return _page(ui, None, values, [{} for _ in range(BLANK_ROWS)], {})


@page
async def new_event_submit(ui: UI) -> web.StreamResponse:
    return await _save(ui, None)


@page
async def edit_event_form(ui: UI) -> web.StreamResponse:
    event = await load_managed_event(ui, ui.match("slug"))
    values, rows = values_of(event)
    return _page(ui, event, values, rows, {})


@page
async def edit_event_submit(ui: UI) -> web.StreamResponse:
    event = await load_managed_event(ui, ui.match("slug"))
    return await _save(ui, event)
