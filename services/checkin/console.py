"""Checkin's page in the organizer console (``/console/checkin/{slug}``): the tickets
admitted twice while phones were offline.

A phone without network checks tickets by itself and cannot know what the other phones
did meanwhile, so one ticket may be admitted at two gates. When the scans reach the
server, the ticket counts once and the later admission is flagged; this page lists those
flags for the people at the event, with the number printed under the ticket's QR code,
the gate, the phone and both times in the event's time zone.

The console's session and language are those of registration's console
(:mod:`shared.templating`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aiohttp import web
from jinja2.ext import babel_extract

from services.checkin import repository
from shared.catalogs import extract_messages
from shared.formatting import Formatter
from shared.ids import ticket_number
from shared.readmodel import keys_of
from shared.runtime import RUNTIME, Runtime
from shared.templating import (
    console_organizer,
    console_page,
    console_sources,
    console_translator,
    page_environment,
)

DOMAIN = "console"
PREFIX = "/console/checkin"
CODE = Path(__file__).resolve()
HERE = CODE.parent
TEMPLATES = HERE / "templates" / "console"
LOCALE_DIR = HERE / "locale"
TEMPLATE = "duplicates.html"

_env = page_environment(TEMPLATES)


async def duplicates_page(request: web.Request) -> web.StreamResponse:
    rt: Runtime = request.app[RUNTIME]
    slug = request.match_info["slug"]
    await console_organizer(request, keys_of(rt), slug)
    event = await repository.get_event(rt.pool, slug)
    if event is None:
        raise web.HTTPNotFound(text="404")
    t = console_translator(request, LOCALE_DIR, DOMAIN)
    fmt = Formatter(t.lang)
    timezone = event["timezone"]
    rows = [
        {
            "number": ticket_number(r["ticket_id"]),
            "gate": r["gate"],
            "phone": r["label"],
            "scanned": fmt.when(r["scanned_at"], timezone, seconds=True),
            "received": fmt.when(r["received_at"], timezone, seconds=True),
        }
        for r in await repository.offline_duplicates(rt.pool, slug)
    ]
    title = fmt.text(event["title"])
    return console_page(
        _env, TEMPLATE, t, slug=slug, event=title.text, event_lang=title.lang, rows=rows
    )


def used_messages() -> Iterator[tuple[str, str, int]]:
    """(msgid, file, line) of the page's strings, for the catalog script."""
    sources = console_sources((TEMPLATES / TEMPLATE, babel_extract))
    return extract_messages(sources, CODE.parents[2])
