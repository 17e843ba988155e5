"""The attendee's stamp card, reached by its capability URL
``/rally/cards/{ticket_id}/{secret}`` (the secret is the registration's own, the one in
the ``manage_url``), and its live updates as Server-Sent Events.

Whoever holds the URL sees the card; a wrong ticket id or secret gets the same 404 page
as a missing one, so nothing can be learned by guessing. The page is complete without
JavaScript: every booth of the rally is rendered, each in the list where it belongs
(stamped, still needed, other), so the script (``static/rally/card.js``) only moves the
rendered items between the lists when the card changes and never builds text of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from babel.dates import format_datetime
from markupsafe import Markup

from services.stamprally import repository, service
from services.stamprally.pages.render import N_, not_found, render
from shared.errors import NotFound
from shared.formatting import Formatter, Localized, zone_of
from shared.http import page_language
from shared.runtime import RUNTIME, Runtime

logger = logging.getLogger(__name__)

TOKYO = "Asia/Tokyo"
KEEPALIVE_SECONDS = 15.0
CHECK_SECONDS = 1.0  # how often a stream looks whether its client is still there
# Set when the application shuts down: open streams end within CHECK_SECONDS.
CLOSING = web.AppKey("rally_card_streams_closing", asyncio.Event)

KIND_LABELS = {
    "country": N_("Country or region"),
    "food": N_("Food"),
    "goods": N_("Shopping"),
    "culture": N_("Culture"),
    "stage": N_("Stage"),
    "info": N_("Information"),
    "organisation": N_("Organization"),
}


def rt_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def install(app: web.Application) -> None:
    """What the card's streams need from the application: a way to end on shutdown."""
    app[CLOSING] = asyncio.Event()

    async def closing(app: web.Application) -> None:
        app[CLOSING].set()

    app.on_shutdown.append(closing)


def _ticket_id(request: web.Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.match_info["ticket_id"])
    except ValueError:
        return None


# -- the page's model -------------------------------------------------------------------
@dataclass(frozen=True)
class BoothItem:
    code: str
    name: Localized
    kind: str | None  # None: a booth no longer in the rally (its stamp stays)
    required: bool
    at: datetime | None = None
    description: Localized | None = None  # what visitors find at the booth

    @property
    def kind_label(self) -> str | None:
        return KIND_LABELS.get(self.kind or "")


@dataclass(frozen=True)
class CardView:
    stamped: list[BoothItem]
    needed: list[BoothItem]  # required booths not stamped yet
    others: list[BoothItem]  # the other booths not stamped yet
    total: int  # the "M" of "N of M"
    done: int  # the "N"
    to_go: int


def card_view(card: dict[str, Any], rally: dict[str, Any], fmt: Formatter) -> CardView:
    """Which booth goes in which list, and the progress, from the card and the rally.

    "N of M": M is the stamps a complete card has at least; N is M less the stamps still
    needed, which counts every missing required booth (so stamps at other booths do not
    fill the bar while a required one is missing)."""
    required = set(card["required_booths"])
    booths = {b["code"]: b for b in rally["booths"]}

    def item(code: str, at: datetime | None = None) -> BoothItem:
        b = booths.get(code)
        name = fmt.text(b["name"]) if b else Localized(code, fmt.lang)
        about = fmt.text(b.get("description")) if b else None
        return BoothItem(
            code,
            name,
            b["kind"] if b else None,
            code in required,
            at,
            about if about and about.text else None,
        )

    stamped = [item(s["booth"], datetime.fromisoformat(s["at"])) for s in card["stamps"]]
    have = {s["booth"] for s in card["stamps"]}
    left = [item(b["code"]) for b in rally["booths"] if b["code"] not in have]
    total = int(card["required"])
    to_go = 0 if card["completed"] else max(len(card["missing_booths"]), total - len(have), 0)
    return CardView(
        stamped=stamped,
        needed=[b for b in left if b.required],
        others=[b for b in left if not b.required],
        total=total,
        done=max(total - to_go, 0),
        to_go=to_go,
    )


def _window(rally: dict[str, Any], now: datetime) -> tuple[str, datetime | None]:
    """Whether the rally is ``open`` now, ``not_yet`` open (and when) or ``ended``."""
    opens = datetime.fromisoformat(rally["opens_at"]) if rally.get("opens_at") else None
    closes = datetime.fromisoformat(rally["closes_at"]) if rally.get("closes_at") else None
    if opens and now < opens:
        return "not_yet", opens
    if closes and now >= closes:
        return "ended", closes
    return "open", None


# -- the page ---------------------------------------------------------------------------
async def card_page(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    ticket_id = _ticket_id(request)
    if ticket_id is None:
        return not_found(request)
    secret = request.match_info["secret"]
    try:
        card = await service.card(rt, ticket_id, secret)
    except NotFound as exc:
        if exc.code != "no_rally":
            return not_found(request)
        # The secret was right, but this event has no rally (yet).
        t = await repository.ticket(rt.pool, ticket_id)
        lang = page_language(request, registered=t["language"] if t else None)
        return render(
            request,
            "no_rally.html",
            lang=lang,
            here=request.path,
            status=404,
            manage=_manage_url(t, secret),
        )
    lang = page_language(request, registered=card["language"])
    fmt = Formatter(lang)
    rally = await service.rally_view(rt.pool, card["event"])
    event = await repository.event(rt.pool, card["event"])
    ticket = await repository.ticket(rt.pool, ticket_id)
    timezone = event["timezone"] if event else TOKYO
    zone = zone_of(timezone)
    view = card_view(card, rally, fmt)
    window, window_at = _window(rally, datetime.now(UTC))
    prize = next((p for p in rally["prizes"] if p["code"] == card["prize"]), None)
    base = request.path

    def clock(at: datetime) -> str:
        return format_datetime(at, "HH:mm", tzinfo=zone, locale=fmt.locale)

    def when(at: datetime) -> str:
        return f"{fmt.date(at, timezone)} {clock(at)}"

    def time_tag(at: datetime | None) -> Markup:
        """A stamp's time inside a translated sentence (empty until the booth stamps)."""
        if at is None:
            return Markup('<time class="at"></time>')
        return Markup('<time class="at" datetime="{}">{}</time>').format(at.isoformat(), clock(at))

    def number(n: int, css: str) -> Markup:
        """A number the script updates in place, inside a translated sentence."""
        return Markup('<span class="{}">{}</span>').format(css, fmt.number(n))

    return render(
        request,
        "card.html",
        lang=lang,
        here=base,
        card=card,
        rally=rally,
        view=view,
        event_title=fmt.text(event["title"]) if event else None,
        title=fmt.text(rally["title"]),
        prize=fmt.text(prize["name"]) if prize else None,
        revoked=bool(ticket and ticket["revoked"]),
        window=window,
        window_at=when(window_at) if window_at else None,
        time_tag=time_tag,
        number=number,
        timezone=timezone,
        manage=_manage_url(ticket, secret),
        api=f"/api/stamprally/cards/{ticket_id}",
        card_secret=secret,
        booth_slot=Markup('<span class="slot-booth"></span>'),
        blank_booth=BoothItem("", Localized("", lang), None, False),
        events_url=f"{base}/events",
    )


def _manage_url(ticket: Any, secret: str) -> str | None:
    """The registration's own page (its ticket QR code): the same secret opens it."""
    if ticket is None or ticket["registration_id"] is None:
        return None
    return f"/events/r/{ticket['registration_id']}/{secret}"


# -- live updates -----------------------------------------------------------------------
def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    rt: Runtime,
    ticket_id: uuid.UUID,
    secret: str,
    card: dict[str, Any],
    changed: asyncio.Event,
) -> None:
    closing = request.app[CLOSING]
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while not closing.is_set() and not _gone(request):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), CHECK_SECONDS)
        if changed.is_set():
            changed.clear()
            card = await service.card(rt, ticket_id, secret)
            await response.write(_sse("card", card))
            quiet_since = loop.time()
        elif loop.time() - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = loop.time()
            if card["completed"] and not card["redeemed"]:
                fresh = await service.card(rt, ticket_id, secret)
                if fresh != card:
                    card = fresh
                    await response.write(_sse("card", card))
                    continue
            await response.write(b": keep-alive\n\n")


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def card_events(request: web.Request) -> web.StreamResponse:
    """``text/event-stream``: the card now (``event: card``), then again after each stamp
    committed by any replica (announced on core NATS at ``service.card_subject``). A
    comment line every 15 s keeps proxies and phones from closing a quiet stream; while
    a complete card waits for its prize, that tick also looks whether the goal desk has
    handed it out (a redemption is not announced)."""
    rt = rt_of(request)
    ticket_id = _ticket_id(request)
    if ticket_id is None:
        raise NotFound()
    secret = request.match_info["secret"]
    changed = asyncio.Event()

    async def on_message(_msg: Any) -> None:
        changed.set()

    # Subscribed before the card is read, so a stamp in between is not missed.
    sub = await rt.nc.subscribe(service.card_subject(rt, ticket_id), cb=on_message)
    try:
        card = await service.card(rt, ticket_id, secret)  # NotFound: the 404 page
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: pass each event on at once
            }
        )
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n" + _sse("card", card))
        try:
            await _stream(request, response, rt, ticket_id, secret, card, changed)
        except (ConnectionResetError, NotFound):
            pass  # the phone went away, or the ticket is gone
        except Exception as exc:  # headers are sent: end the stream, the phone reconnects
            logger.warning("card stream ended", extra={"error": type(exc).__name__})
        return response
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
