"""What organizers do to one registration (approve, reject, cancel after asking; export
or erase a person's data on their request) and the CSV export of an event's
registrations."""

from __future__ import annotations

import json

import asyncpg
from aiohttp import web

from services.registration import privacy, repository, service
from services.registration.console.labels import STATUSES
from services.registration.console.overview import Filters, fetch_rows, load_managed_event
from services.registration.console.web import (
    PREFIX,
    UI,
    page,
    parse_uuid,
    redirect,
    safe_next,
    with_notice,
)
from services.registration.handlers import registration_item, registrations_csv
from shared.errors import Conflict, NotFound


# -- review and cancel ------------------------------------------------------------------
async def managed_registration(ui: UI) -> asyncpg.Record:
    reg = await repository.get_registration(ui.rt.pool, parse_uuid(ui.match("id")))
    if reg is None:
        raise NotFound()
    ui.org.require(reg["event_slug"])
    return reg


def back_to(ui: UI, reg: asyncpg.Record, notice: str) -> web.Response:
    default = f"{PREFIX}/events/{reg['event_slug']}"
    target = safe_next(ui.value("back"), default)
    if not target.startswith(default):
        target = default
    return redirect(with_notice(target, notice))


@page
async def approve(ui: UI) -> web.StreamResponse:
    reg = await managed_registration(ui)
    try:
        updated = await service.approve(ui.rt, reg["id"])
    except Conflict:
        return back_to(ui, reg, "not_allowed")
    return back_to(
        ui, reg, "approved" if updated["status"] == "confirmed" else "approved_waitlisted"
    )


@page
async def reject(ui: UI) -> web.StreamResponse:
    reg = await managed_registration(ui)
    try:
        await service.reject(ui.rt, reg["id"])
    except Conflict:
        return back_to(ui, reg, "not_allowed")
    return back_to(ui, reg, "rejected")


@page
async def cancel_confirm(ui: UI) -> web.StreamResponse:
    """Cancelling frees the place at once and may promote someone: it is asked twice."""
    reg = await managed_registration(ui)
    event = await load_managed_event(ui, reg["event_slug"])
    back = safe_next(ui.request.query.get("back"), f"{PREFIX}/events/{event.slug}")
    category = next(c for c in event.categories if c.code == reg["category_code"])
    return ui.render(
        "cancel.html",
        reg=reg,
        event=event,
        category=category,
        back=back,
        statuses=STATUSES,
    )


@page
async def cancel(ui: UI) -> web.StreamResponse:
    reg = await managed_registration(ui)
    try:
        await service.cancel(ui.rt, reg["id"], by="organizer")
    except Conflict:
        return back_to(ui, reg, "not_allowed")
    return back_to(ui, reg, "cancelled")


# -- personal data on request (APPI) ----------------------------------------------------
@page
async def export_data(ui: UI) -> web.StreamResponse:
    """Everything registration holds about the person, as a file to hand over. The page
    decorator adds ``Cache-Control: no-store``: no cache may keep a copy."""
    reg = await managed_registration(ui)
    data = await privacy.export(ui.rt, reg["id"])
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, indent=2),
        content_type="application/json",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="registration-{reg["id"]}.json"'},
    )


@page
async def erase_confirm(ui: UI) -> web.StreamResponse:
    """Erasing cannot be undone (and cancels an active registration first): it is asked
    twice, like cancelling."""
    reg = await managed_registration(ui)
    event = await load_managed_event(ui, reg["event_slug"])
    back = safe_next(ui.request.query.get("back"), f"{PREFIX}/events/{event.slug}")
    category = next(c for c in event.categories if c.code == reg["category_code"])
    return ui.render(
        "erase.html",
        reg=reg,
        event=event,
        category=category,
        back=back,
        active=reg["status"] in privacy.ACTIVE,
        statuses=STATUSES,
    )


@page
async def erase(ui: UI) -> web.StreamResponse:
    reg = await managed_registration(ui)
    try:
        await privacy.erase(ui.rt, reg["id"], by="organizer")
    except Conflict:  # cancelled meanwhile by someone else: the page is out of date
        return back_to(ui, reg, "not_allowed")
    return back_to(ui, reg, "erased")


@page
async def export_csv(ui: UI) -> web.StreamResponse:
    slug = ui.match("slug")
    event = await load_managed_event(ui, slug)
    filters = Filters.of(ui.request.query, event)
    rows = await fetch_rows(ui, slug, filters, after=None, limit=100_000)
    return web.Response(
        body=registrations_csv([registration_item(r) for r in rows]),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-registrations.csv"'},
    )
