"""The organizers' live board (``/console/events/{slug}/live``): the whole day of one event
at a glance — registrations against capacity, people inside and per gate, arrivals, the
stamp rally, languages, messages — updated within a second without reloading.

The page is a frame; ``static/console/live.js`` fills it from the event's live stream,
which the console relays for the organizer's session (``…/live/stream``, the same
Server-Sent Events as ``GET /api/registration/events/{slug}/live``). The snapshots carry
counts only, never a name, email or phone number, and the page shows nothing else about
people, so it can go on a projector (``?projector=1``: big numbers, high contrast, none of
the console's header, which names the organizer).
"""

from __future__ import annotations

from aiohttp import web

from services.registration import live, organizers, repository
from services.registration.console.formats import babel_locale
from services.registration.console.overview import load_managed_event
from services.registration.console.web import SESSION_COOKIE, UI, page
from services.registration.handlers import rt_of
from shared.errors import NotFound, Unauthorized
from shared.i18n import LANGUAGE_NAMES

# A gate that has admitted or let out nobody for this long, while the event is open, is
# probably a phone gone offline or flat: the board warns.
SILENT_GATE_MINUTES = 10
# A prize with fewer than this many left is flagged, so more can be fetched in time.
LOW_PRIZE_STOCK = 10


def board_strings(ui: UI) -> dict[str, str]:
    """Texts the script writes into the page (numbers and names are filled in there)."""
    return {
        "live": ui._("Live"),
        "connecting": ui._("Connecting…"),
        "reconnecting": ui._("Reconnecting… The numbers shown may be out of date."),
        "stopped": ui._("Not updating"),
        "session_ended": ui._("Your session has ended. Log in again to see the live board."),
        "updated": ui._("Updated %(time)s"),
        "no_numbers": ui._("No numbers from this service yet."),
        "no_gates": ui._("No one has been scanned in yet."),
        "no_arrivals": ui._("No arrivals yet."),
        "peak": ui._("Busiest 5 minutes: %(time)s (%(n)s people)"),
        "silent": ui._("No scans for %(n)s minutes. Check the device."),
        "no_rally": ui._("No stamp rally has been set up for this event."),
        "busiest": ui._("Most stamps"),
        "emptiest": ui._("Fewest stamps"),
        "low_stock": ui._("Fewer than %(n)s left"),
        "out_of_stock": ui._("None left"),
        "of_capacity": ui._("of %(n)s places"),
    }


@page
async def board_page(ui: UI) -> web.StreamResponse:
    slug = ui.match("slug")
    event = await load_managed_event(ui, slug)
    projector = ui.request.query.get("projector") == "1"
    return ui.render(
        "live.html",
        event=event,
        projector=projector,
        layout="live_projector_base.html" if projector else "base.html",
        strings=board_strings(ui),
        # The console's language as Intl knows it (Tagalog as Filipino, as for Babel).
        locale=babel_locale(ui.lang).replace("_", "-"),
        language_names=LANGUAGE_NAMES,
        silent_minutes=SILENT_GATE_MINUTES,
        low_stock=LOW_PRIZE_STOCK,
    )


async def board_stream(request: web.Request) -> web.StreamResponse:
    """The event's live stream for the console's session cookie (an ``EventSource`` cannot
    send the API's bearer token). Not a page: without a session it is 401, for an event the
    organizer does not manage 403 (the script tells the person to log in again)."""
    rt = rt_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise Unauthorized()
    org = await organizers.authenticate(rt, token, "console")
    slug = request.match_info["slug"]
    org.require(slug)
    if not await repository.event_exists(rt.pool, slug):
        raise NotFound()
    return await live.stream(request, rt, slug)
