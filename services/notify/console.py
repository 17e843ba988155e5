"""Notify's page in the organizer console (``/console/notify/{slug}``): what was sent for an
event, each announcement's sent/total, the messages that could not be sent, and the
event's reminder time and stamp-rally message.

The console's session cookie carries the organizer's signed token (``O1.``), which notify
checks with its copy of the public keys, as it does for the API. The settings form has
its own CSRF token (a random value in a SameSite=Strict cookie and in the form), on top
of the session cookie being SameSite=Strict.
"""

from __future__ import annotations

import secrets
from datetime import time
from pathlib import Path
from typing import Any

from aiohttp import web

from services.notify import repository
from services.notify.render import LOCALE_DIR, TEMPLATES
from shared.auth import OrganizerClaims, organizer_of_token
from shared.errors import Unauthorized
from shared.formatting import Formatter
from shared.http import is_secure
from shared.i18n import Translator, negotiate, normalize
from shared.readmodel import keys_of
from shared.runtime import RUNTIME, Runtime

DOMAIN = "console"
SESSION_COOKIE = "tomoni_session"
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


def _translator(request: web.Request) -> Translator:
    lang = normalize(request.cookies.get("tomoni_lang")) or negotiate(
        request.headers.get("Accept-Language")
    )
    return Translator(lang, locale_dirs=(LOCALE_DIR,), domain=DOMAIN)


async def _organizer(request: web.Request, rt: Runtime, slug: str) -> OrganizerClaims:
    """The console's organizer, allowed to see ``slug``: else to the login page, or 403."""
    keys = keys_of(rt)
    try:
        org = await organizer_of_token(request.cookies.get(SESSION_COOKIE, ""), keys)
    except Unauthorized:
        raise web.HTTPSeeOther("/console/login") from None
    if not (org.role == "admin" or slug in org.events):
        raise web.HTTPForbidden(text="403")
    return org


def _page(t: Translator, **variables: Any) -> str:
    from services.notify.render import _env

    _env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    return _env.get_template("console_messages.html").render(lang=t.lang, **variables)


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
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    body = _page(
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
    response = web.Response(
        text=body,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"},
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
    )
    return response


async def save_settings(request: web.Request) -> web.StreamResponse:
    rt: Runtime = request.app[RUNTIME]
    slug = request.match_info["slug"]
    await _organizer(request, rt, slug)
    form = await request.post()
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(str(form.get("csrf", "")), expected):
        raise web.HTTPForbidden(text="403 csrf")
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


def used_messages() -> list[tuple[str, str, int]]:
    """(msgid, file, line) of the page's strings, for the catalog script."""
    from babel.messages.extract import extract
    from jinja2.ext import babel_extract

    root = CODE.parents[2]
    found: list[tuple[str, str, int]] = []
    sources: list[tuple[Path, Any, dict[str, Any]]] = [
        (CODE, "python", {"N_": None}),
        (TEMPLATES / "console_messages.html", babel_extract, {"_": None}),
    ]
    for path, method, keywords in sources:
        with path.open("rb") as f:
            for lineno, message, _c, _ctx in extract(method, f, keywords=keywords):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    found.append((msgid, str(path.relative_to(root)), lineno))
    return found
