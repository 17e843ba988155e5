"""Registering someone who phones or walks in, and printing their ticket.

Staff registration goes through the same use case as the public form, with the
organizer's id: contact details are optional and the registration window does not apply
(a walk-in on the day is the point). The form first asks for the category, because each
category has its own questions; that keeps the page usable without JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

from services.registration import repository, service
from services.registration.console.formats import pick
from services.registration.console.labels import STATUSES, field_messages
from services.registration.console.overview import category_lines, load_managed_event
from services.registration.console.registrations import managed_registration
from services.registration.console.web import (
    PREFIX,
    UI,
    page,
    redirect,
    template_gettext,
    translator,
)
from services.registration.domain import Category, EventDraft, FormField
from services.registration.handlers import qr_image
from shared.errors import Conflict, FieldError, ValidationFailed
from shared.i18n import LANGUAGES
from shared.ids import new_secret


def inline_qr(text: str, label: str) -> Markup:
    """The QR as inline SVG (no image URL, no capability to leak). The fixed size in
    millimetres and the element id are dropped so CSS sizes it and two codes on one page
    stay valid HTML; presentation attributes only, so the CSP allows it."""
    svg = qr_image(text, "svg")[0].decode()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s(?:width|height)="[0-9.]+mm"', "", svg, count=2)
    svg = svg.replace(' id="qr-path"', "")
    svg = svg.replace("<svg ", f'<svg class="qr" role="img" aria-label="{escape(label)}" ', 1)
    return Markup(svg)


def ticket_lines(text: dict[str, str], lang: str) -> list[tuple[str, str]]:
    """(language, text) lines for a ticket: the registrant's language, then Japanese for
    the staff at the gate; where their language is not written, Japanese then English
    (the city's fallback order), so a visitor who reads no Japanese still has a line."""
    order = [lang, "ja"] if text.get(lang, "").strip() else ["ja", "en"]
    lines: list[tuple[str, str]] = []
    for code in order:
        value = text.get(code, "").strip()
        if value and value not in (v for _, v in lines):
            lines.append((code, value))
    return lines


def _category(event: EventDraft, code: str) -> Category | None:
    return next((c for c in event.categories if c.code == code), None)


def parse_answers(fields: tuple[FormField, ...], form: Mapping[str, Any]) -> dict[str, Any]:
    """Form text → typed answers; what cannot be read is passed on as text, so the
    domain's checks report it next to the field like any other invalid answer."""
    answers: dict[str, Any] = {}
    for f in fields:
        name = f"answers.{f.key}"
        if f.type == "checkbox":
            answers[f.key] = name in form
            continue
        raw = form.get(name)
        raw = raw.strip() if isinstance(raw, str) else ""
        if not raw:
            continue
        if f.type == "number":
            try:
                answers[f.key] = int(raw)
            except ValueError:
                try:
                    answers[f.key] = float(raw)
                except ValueError:
                    answers[f.key] = raw
        else:
            answers[f.key] = raw
    return answers


def _form_page(
    ui: UI,
    event: EventDraft,
    category: Category,
    *,
    values: Mapping[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    labels = {
        "form": "",
        "name": ui._("Name"),
        "name_kana": ui._("Name in kana"),
        "email": ui._("Email address"),
        "phone": ui._("Phone number"),
        "language": ui._("Language for messages"),
        "party_size": ui._("Party size (people)"),
    }
    labels.update({f"answers.{f.key}": pick(f.label, ui.lang) for f in category.fields})
    return ui.render(
        "register.html",
        status=status,
        event=event,
        category=category,
        values=values,
        errors=errors or {},
        labels=labels,
        idem=values.get("idem") or new_secret(16),
    )


@page
async def register_form(ui: UI) -> web.StreamResponse:
    event = await load_managed_event(ui, ui.match("slug"))
    category = _category(event, ui.request.query.get("category", ""))
    if category is None:
        lines = await category_lines(ui.rt.pool, event)
        return ui.render("register_pick.html", event=event, lines=lines)
    return _form_page(ui, event, category, values={"language": "ja", "party_size": "1"})


@page
async def register_submit(ui: UI) -> web.StreamResponse:
    event = await load_managed_event(ui, ui.match("slug"))
    category = _category(event, ui.value("category"))
    if category is None:
        return redirect(f"{PREFIX}/events/{event.slug}/register")
    values = {k: v for k, v in ui.form.items() if isinstance(v, str)}
    errors: list[FieldError] = []
    try:
        party_size = int(ui.value("party_size") or "1")
    except ValueError:
        party_size, errors = 0, [FieldError("party_size", "invalid")]
    language = ui.value("language")
    if language not in LANGUAGES:
        errors.append(FieldError("language", "invalid"))
    idem = ui.value("idem")
    if not 1 <= len(idem) <= 200:
        idem = new_secret(16)
    request = service.RegistrationRequest(
        category=category.code,
        name=ui.value("name")[:100],
        name_kana=ui.value("name_kana")[:100] or None,
        email=ui.value("email")[:254] or None,
        phone=ui.value("phone")[:32] or None,
        language=language,
        party_size=party_size,
        answers=parse_answers(category.fields, ui.form),
    )
    try:
        if errors:
            raise ValidationFailed(errors)
        _status, answer = await service.register(
            ui.rt, event.slug, request, organizer_id=ui.org.id, idempotency_key=idem
        )
    except ValidationFailed as exc:
        found = exc.errors
        if any(e.field == "Idempotency-Key" for e in found):
            found = [FieldError("form", "resent")]
        messages = field_messages(found, ui._)
        return _form_page(ui, event, category, values=values, errors=messages, status=422)
    except Conflict as exc:
        code = exc.code if exc.code == "duplicate_registration" else "invalid"
        messages = field_messages([FieldError("email", code)], ui._)
        return _form_page(ui, event, category, values=values, errors=messages, status=409)
    return redirect(f"{PREFIX}/registrations/{answer['id']}/ticket")


@page
async def ticket(ui: UI) -> web.StreamResponse:
    """A ticket to print and hand over. Its words are in the registrant's language (the
    console around it stays in the organizer's)."""
    reg = await managed_registration(ui)
    event = await load_managed_event(ui, reg["event_slug"])
    view = await service.view(ui.rt, reg)
    category = _category(event, reg["category_code"])
    attendee = translator(reg["language"])
    qr = None
    if view["ticket"] is not None and reg["status"] == "confirmed":
        qr = inline_qr(view["ticket"]["qr_text"], attendee.gettext("Ticket QR code"))
    ticket_row = await repository.active_ticket(ui.rt.pool, reg["id"])
    return ui.render(
        "ticket.html",
        reg=reg,
        event=event,
        category=category,
        qr=qr,
        ticket_id=str(ticket_row["id"]) if ticket_row else None,
        waitlist_position=view["waitlist_position"],
        statuses=STATUSES,
        t_=template_gettext(attendee),
        attendee_lang=attendee.lang,
        title_lines=ticket_lines(event.title, attendee.lang),
        venue_lines=ticket_lines(event.venue, attendee.lang),
        category_lines=ticket_lines(category.title, attendee.lang) if category else [],
    )
