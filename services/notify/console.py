"""Notify's page in the organizer console (``/console/notify/{slug}``): what was sent for an
event, each announcement's sent/total, the messages that could not be sent, and the
event's reminder time and stamp-rally message.

The console's session cookie carries the organizer's signed token (``O1.``), which notify
checks with its copy of the public keys, as it does for the API. The settings form has
its own CSRF token (a random value in a SameSite=Strict cookie and in the form), on top
of the session cookie being SameSite=Strict.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2.ext import babel_extract

from services.notify import repository
from services.notify.render import LOCALE_DIR, TEMPLATES
from shared.auth import OrganizerClaims
from shared.catalogs import extract_messages
from shared.formatting import Formatter
from shared.i18n import Translator
from shared.readmodel import keys_of
from shared.runtime import RUNTIME, Runtime
from shared.templating import (
    FormToken,
    console_organizer,
    console_page,
    console_sources,
    console_translator,
)

DOMAIN = "console"
CSRF_COOKIE = "tomoni_notify_csrf"
PREFIX = "/console/notify"
CODE = Path(__file__).resolve()


def N_(message: str) -> str:
    return message


TEMPLATE_NAMES = {
    "ticket": N_("Ticket"),
    "waitlisted": N_("Waiting list"),
    "promoted": N_("Place became free"),
    "cancelled": N_("Cancellation"),
    "approved": N_("Application accepted"),
    "rejected": N_("Application not accepted"),
    "reminder": N_("Reminder"),
    "announcement": N_("Announcement"),
    "rally_completed": N_("Stamp card complete"),
}
CHANNEL_NAMES = {"email": N_("Email"), "sms": N_("SMS")}
STATUS_NAMES = (
    ("queued", N_("Waiting")),
    ("sent", N_("Sent")),
    ("failed", N_("Failed, will try again")),
    ("dead", N_("Could not be sent")),
    ("skipped", N_("Not sent (registration ended)")),
)


FORM_TOKEN = FormToken(CSRF_COOKIE, PREFIX)


def _translator(request: web.Request) -> Translator:
    return console_translator(request, LOCALE_DIR, DOMAIN)


async def _organizer(request: web.Request, rt: Runtime, slug: str) -> OrganizerClaims:
    return await console_organizer(request, keys_of(rt), slug)


def _page(t: Translator, **variables: Any) -> web.Response:
    from services.notify.render import _env

    return console_page(_env, "console_messages.html", t, **variables)


async def messages_page(request: web.Request) -> web.StreamResponse:
    rt: Runtime = request.app[RUNTIME]
    slug = request.match_info["slug"]
    await _organizer(request, rt, slug)
    event = await repository.event(rt.pool, slug)
    if event is None:
        raise web.HTTPNotFound(text="404")
    t = _translator(request)
    fmt = Formatter(t.lang)
    title = fmt.text(event["title"])
    kinds: dict[tuple[str, str], dict[str, int]] = {}
    for r in await repository.summary(rt.pool, slug):
        kinds.setdefault((r["template"], r["channel"]), {})[r["status"]] = r["n"]
    settings = await repository.event_settings(rt.pool, slug)
    csrf = FORM_TOKEN.value(request)
    response = _page(
        t,
        slug=slug,
        event=title.text,
        event_lang=title.lang,
        saved=request.query.get("saved") == "1",
        statuses=[(code, t.gettext(label)) for code, label in STATUS_NAMES],
        kinds=[
            {
                "label": t.gettext(TEMPLATE_NAMES.get(template, template)),
                "channel_label": t.gettext(CHANNEL_NAMES.get(channel, channel)),
                "counts": counts,
            }
            for (template, channel), counts in sorted(kinds.items())
        ],
        announcements=[
            {
                "subject": fmt.text(a["subject"]).text,
                "subject_lang": fmt.text(a["subject"]).lang,
                "created_at": fmt.date(a["created_at"], event["timezone"]),
                "sent": a["sent"],
                "total": a["total"],
                "waiting": a["waiting"],
                "dead": a["dead"],
            }
            for a in await repository.announcement_stats(rt.pool, slug)
        ],
        problems=[
            {
                "created_at": fmt.date(p["created_at"], event["timezone"]),
                "label": t.gettext(TEMPLATE_NAMES.get(p["template"], p["template"])),
                "channel_label": t.gettext(CHANNEL_NAMES.get(p["channel"], p["channel"])),
                "recipient": p["recipient"],
                "attempts": p["attempts"],
                "error": p["last_error"] or "",
            }
            for p in await repository.undeliverable(rt.pool, slug)
        ],
        reminder_time=settings["reminder_time"].strftime("%H:%M")
        if settings["reminder_time"]
        else None,
        rally_completed=settings["rally_completed"],
        csrf=csrf,
    )
    FORM_TOKEN.set(request, response, csrf)
    return response


async def save_settings(request: web.Request) -> web.StreamResponse:
    rt: Runtime = request.app[RUNTIME]
    slug = request.match_info["slug"]
    await _organizer(request, rt, slug)
    form = await request.post()
    FORM_TOKEN.check(request, form)
    if await repository.event(rt.pool, slug) is None:
        raise web.HTTPNotFound(text="404")
    at: time | None = None
    if form.get("reminder_on"):
        try:
            at = time.fromisoformat(str(form.get("reminder_time", "")))
        except ValueError:
            raise web.HTTPUnprocessableEntity(text="422 reminder_time") from None
    await repository.save_event_settings(rt.pool, slug, at, bool(form.get("rally_completed")))
    raise web.HTTPSeeOther(f"{PREFIX}/{slug}?saved=1")


def used_messages() -> Iterator[tuple[str, str, int]]:
    """(msgid, file, line) of the page's strings, for the catalog script."""
    sources = console_sources(
        (CODE, "python"), (TEMPLATES / "console_messages.html", babel_extract)
    )
    return extract_messages(sources, CODE.parents[2])
