"""The pages of one registration, reached by its capability URL ``/events/r/{id}/{secret}``
(the API's ``manage_url``): the ticket, changes, cancelling, and deleting one's data.

Whoever holds the URL is the registrant; a wrong id or secret gets the same 404 page as
a missing one, so nothing can be learned by guessing. The ticket page is sent with
``Cache-Control: private, max-age=0``: never kept by a shared cache, but a phone that
loses its signal at the gate can still show it again from its history.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from markupsafe import Markup

from services.registration import privacy, repository, service
from services.registration.domain import ACTIVE
from services.registration.handlers import qr_image, rt_of
from services.registration.pages import forms
from services.registration.pages.public import event_view
from services.registration.pages.render import Msg, not_found, render, see_other
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.http import page_language
from shared.ids import ticket_number

TICKET_CACHE = "private, max-age=0"
# The kinds of event that have a stamp rally: their tickets get a link to the card.
RALLY_KINDS = ("fair", "volunteer_fair")
_SIZE_ATTRS = re.compile(r'\s(width|height)="[^"]*"')


def _base(reg: asyncpg.Record, secret: str) -> str:
    return f"/events/r/{reg['id']}/{secret}"


async def _own(request: web.Request) -> asyncpg.Record | None:
    """The registration this URL is the capability of, or None (wrong id or secret)."""
    try:
        reg_id = uuid.UUID(request.match_info["id"])
        return await service.find_own(rt_of(request), reg_id, request.match_info["secret"])
    except (ValueError, NotFound):
        return None


def inline_qr(qr_text: str) -> Markup:
    """The ticket QR as inline SVG: drawn with the page, so it shows offline, and sized by
    the stylesheet (the fixed millimetre size is removed) to fill a phone's width."""
    svg = qr_image(qr_text, "svg")[0].decode("utf-8")
    svg = svg[svg.index("<svg") :]
    head, rest = svg.split(">", 1)
    head = _SIZE_ATTRS.sub("", head).replace(
        "<svg", '<svg class="qr" aria-hidden="true" focusable="false"', 1
    )
    return Markup(f"{head}>{rest}")  # our own SVG, made from our own signed token


async def _manage(
    request: web.Request,
    reg: asyncpg.Record,
    *,
    errors: forms.Errors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    rt = rt_of(request)
    lang = page_language(request, registered=reg["language"])
    event = await repository.load_event(rt.pool, reg["event_slug"])
    if event is None:
        return not_found(request, lang)
    view = await event_view(rt, event, datetime.now(UTC))
    cat = next(c for c in view.categories if c.category.code == reg["category_code"])
    own = await service.view(rt, reg)
    ticket = own["ticket"] if reg["status"] == "confirmed" else None
    base = _base(reg, request.match_info["secret"])
    # The stamp card (served by stamprally) opens with the same secret as this page.
    rally_card = (
        f"/rally/cards/{ticket['id']}/{request.match_info['secret']}"
        if ticket and event.kind in RALLY_KINDS
        else None
    )
    current: dict[str, Any] = {
        "email": reg["email"] or "",
        "phone": reg["phone"] or "",
        "language": reg["language"],
        "party_size": str(reg["party_size"]),
    }
    return render(
        request,
        "ticket.html",
        lang=lang,
        here=base,
        status=status,
        cache_control=TICKET_CACHE if status == 200 else "no-store",
        event=event,
        cat=cat,
        reg=own,
        base=base,
        active=reg["status"] in ACTIVE,
        qr=inline_qr(ticket["qr_text"]) if ticket else None,
        ticket_number=ticket_number(ticket["id"]) if ticket else None,
        rally_card=rally_card,
        saved=request.query.get("saved") == "1",
        errors=errors or forms.Errors(),
        values={**current, **(values or {})},
        fid=forms.field_id,
        labels=forms.LABELS,
    )


async def ticket_page(request: web.Request) -> web.StreamResponse:
    reg = await _own(request)
    if reg is None:
        return not_found(request)
    return await _manage(request, reg)


async def ticket_png(request: web.Request) -> web.StreamResponse:
    """The QR as a PNG to keep in the photo gallery; same capability as the page."""
    reg = await _own(request)
    ticket = await repository.active_ticket(rt_of(request).pool, reg["id"]) if reg else None
    if reg is None or ticket is None or reg["status"] != "confirmed":
        return not_found(request)
    body, ctype = qr_image(ticket["qr_text"], "png")
    return web.Response(
        body=body,
        content_type=ctype,
        headers={
            "Cache-Control": TICKET_CACHE,
            "Content-Disposition": 'attachment; filename="tomoni-ticket.png"',
        },
    )


async def change(request: web.Request) -> web.StreamResponse:
    reg = await _own(request)
    if reg is None:
        return not_found(request)
    form = await request.post()
    errors = forms.Errors()
    try:
        await service.change(rt_of(request), reg["id"], forms.change_request(form, reg))
    except ValidationFailed as exc:
        errors = forms.collect(exc.errors, None)
        status = 422
    except Conflict as exc:
        if exc.code == "no_capacity":
            msg = Msg(forms.FORM_MESSAGES["no_capacity"])
            errors.by_field["party_size"] = msg
            errors.problems.append(
                forms.Problem(msg, forms.field_id("party_size"), forms.LABELS["party_size"])
            )
        else:
            errors.general(exc.code)
        status = 409
    else:
        return see_other(request, _base(reg, request.match_info["secret"]) + "?saved=1")
    fresh = await repository.get_registration(rt_of(request).pool, reg["id"])
    return await _manage(
        request, fresh or reg, errors=errors, values=forms.form_values(form), status=status
    )


async def to_ticket(request: web.Request) -> web.StreamResponse:
    """A GET of a form's target (a reload, a shared link) shows the registration."""
    reg = await _own(request)
    if reg is None:
        return not_found(request)
    return see_other(request, _base(reg, request.match_info["secret"]))


async def cancel_page(request: web.Request) -> web.StreamResponse:
    """The confirmation step: cancelling gives the place away and cannot be undone."""
    reg = await _own(request)
    if reg is None:
        return not_found(request)
    base = _base(reg, request.match_info["secret"])
    if reg["status"] not in ACTIVE:
        return see_other(request, base)
    rt = rt_of(request)
    event = await repository.load_event(rt.pool, reg["event_slug"])
    if event is None:
        return not_found(request)
    category = next(c for c in event.categories if c.code == reg["category_code"])
    return render(
        request,
        "cancel.html",
        lang=page_language(request, registered=reg["language"]),
        here=f"{base}/cancel",
        cache_control="no-store",
        event=event,
        category=category,
        reg=reg,
        base=base,
    )


async def cancel(request: web.Request) -> web.StreamResponse:
    reg = await _own(request)
    if reg is None:
        return not_found(request)
    try:
        await service.cancel(rt_of(request), reg["id"], by="attendee")
    except Conflict:
        pass  # rejected meanwhile: the ticket page tells what the registration is now
    return see_other(request, _base(reg, request.match_info["secret"]))


async def erase_page(request: web.Request) -> web.StreamResponse:
    """The confirmation step of "Delete my data": what goes, what the city keeps, and that
    an active registration is cancelled too. Offered in every status: a cancelled or
    rejected registration still holds the person's data until they or the retention end
    it."""
    reg = await _own(request)
    if reg is None:
        return not_found(request)
    base = _base(reg, request.match_info["secret"])
    rt = rt_of(request)
    event = await repository.load_event(rt.pool, reg["event_slug"])
    if event is None:
        return not_found(request)
    category = next(c for c in event.categories if c.code == reg["category_code"])
    return render(
        request,
        "erase.html",
        lang=page_language(request, registered=reg["language"]),
        here=f"{base}/erase",
        cache_control="no-store",
        erased=False,
        event=event,
        category=category,
        reg=reg,
        base=base,
        active=reg["status"] in ACTIVE,
    )


async def erase(request: web.Request) -> web.StreamResponse:
    """Erase, then answer with the final page itself: the secret dies with the data, so a
    redirect to the registration's pages would only find the 404 page (and so would a
    second tap: the form's ``data-sending`` makes the script hold it). Like cancelling,
    only a POST to the capability URL changes anything."""
    reg = await _own(request)
    if reg is None:
        return not_found(request)
    rt = rt_of(request)
    cancelled = reg["status"] in ACTIVE
    try:
        await privacy.erase(rt, reg["id"], by="attendee")
    except Conflict:
        # Decided meanwhile (an organizer rejected it): no longer active, so erasing
        # again skips the cancellation and only erases.
        cancelled = False
        await privacy.erase(rt, reg["id"], by="attendee")
    return render(
        request,
        "erase.html",
        lang=page_language(request, registered=reg["language"]),
        here="/events/",  # the language picker cannot come back to a dead link
        cache_control="no-store",
        erased=True,
        was_active=cancelled,
    )
