"""How an attendee page becomes HTML: the page language, the catalogs, Jinja2, and the
localized formatting of dates and multilingual event texts.

Attendees are foreign residents on old phones, so every page is plain server-rendered
HTML that works without JavaScript, in the language they picked (remembered in the
``tomoni_lang`` cookie). Every user-facing string is a gettext msgid (English) looked up
in ``services/registration/locale``; Japanese msgstrs carry furigana as ``<ruby>``
markup, which is why translations are trusted as HTML (newstyle gettext under autoescape
returns :class:`~markupsafe.Markup`) and why :func:`plain` exists for the few places
HTML cannot go (``<title>``, attributes, ``<option>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from babel import Locale
from babel.dates import format_datetime, format_interval
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from shared.i18n import LANGUAGE_NAMES, LANGUAGES, negotiate, normalize, translator

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates" / "attendee"
LOCALE_DIR = HERE / "locale"
STATIC_PREFIX = "/events/static"

LANG_COOKIE = "tomoni_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
TOKYO = "Asia/Tokyo"

# Babel names Tagalog by its standard form, Filipino.
_BABEL_LOCALE = {"tl": "fil"}


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated where it is shown (in a template)."""
    return message


@dataclass(frozen=True)
class Msg:
    """A msgid and its parameters, translated by the template that shows it."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)


# -- language ---------------------------------------------------------------------------
def page_language(request: web.Request, registered: str | None = None) -> str:
    """The language of a page: ``?lang=``, then the ``tomoni_lang`` cookie (the same order
    as :func:`shared.http.request_language`, but an unknown ``?lang`` does not hide the
    cookie), then the registration's own language on the pages of a registration (a
    link from an email opened on another phone), then ``Accept-Language``."""
    chosen = normalize(request.query.get("lang")) or normalize(request.cookies.get(LANG_COOKIE))
    return chosen or normalize(registered) or negotiate(request.headers.get("Accept-Language"))


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    """An explicit ``?lang=`` choice is kept for a year, for every Tomoni page."""
    chosen = normalize(request.query.get("lang"))
    if chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            path="/",
            samesite="Lax",
            secure=request.secure,
        )


# -- formatting -------------------------------------------------------------------------
@dataclass(frozen=True)
class Localized:
    """A text from the database and the language it is really in (for ``lang=``)."""

    text: str
    lang: str


class Formatter:
    """Dates, numbers and multilingual texts for one page language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(_BABEL_LOCALE.get(lang, lang))

    def text(self, value: dict[str, str] | None) -> Localized:
        """Event content as given in the page language, else Japanese, else English."""
        value = value or {}
        for code in (self.lang, "ja", "en", *value):
            if value.get(code, "").strip():
                return Localized(value[code].strip(), code)
        return Localized("", self.lang)

    def paragraphs(self, value: dict[str, str] | None) -> tuple[str, list[str]]:
        loc = self.text(value)
        return loc.lang, [p.strip() for p in loc.text.splitlines() if p.strip()]

    def date(self, at: datetime, tz: str = TOKYO) -> str:
        """The day with its weekday, e.g. ``2026年10月25日(日)`` or ``Sun, October 25, 2026``."""
        pattern = self.locale.datetime_skeletons["yMMMMEd"]
        return format_datetime(at, pattern, tzinfo=_zone(tz), locale=self.locale)

    def times(self, start: datetime, end: datetime, tz: str = TOKYO) -> str:
        """Start to end, 24-hour clock (``13:00–16:30``); the end's day when it differs."""
        zone = _zone(tz)
        if start.astimezone(zone).date() != end.astimezone(zone).date():
            return format_interval(start, end, "yMMMdHm", tzinfo=zone, locale=self.locale)
        return format_interval(start, end, "Hm", tzinfo=zone, locale=self.locale)

    def number(self, n: int) -> str:
        return format_decimal(n, locale=self.locale)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(TOKYO)


_RT = re.compile(r"<(rt|rp)>.*?</\1>", re.S)
_TAG = re.compile(r"<[^>]+>")


def plain(value: Any) -> str:
    """A translation without its markup, for places HTML cannot go: furigana readings are
    dropped (``<ruby>申<rt>もう</rt></ruby>`` → ``申``), other tags removed, entities
    decoded; autoescape escapes the result again where it is printed."""
    text = _TAG.sub("", _RT.sub("", str(value)))
    return Markup(text).unescape()


# -- templates --------------------------------------------------------------------------
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
_env.filters["plain"] = plain


_static_urls: dict[str, str] = {}


def static_url(router: web.UrlDispatcher, filename: str) -> str:
    """``/events/static/<file>?v=<hash>``: aiohttp adds the content hash, so a changed
    file is fetched again while an unchanged one comes from the phone's cache. Files do
    not change while the process runs, so the hash is computed once."""
    if filename not in _static_urls:
        url = f"{STATIC_PREFIX}/{filename}"
        for resource in router.resources():
            if isinstance(resource, web.StaticResource) and resource.canonical == STATIC_PREFIX:
                url = str(resource.url_for(filename=filename))
        _static_urls[filename] = url
    return _static_urls[filename]


def render(
    request: web.Request,
    template: str,
    *,
    lang: str,
    here: str,
    status: int = 200,
    cache_control: str = "no-cache",
    **context: Any,
) -> web.Response:
    """Render ``template`` in ``lang``. ``here`` is the page's own GET path: the language
    picker links to it with ``?lang=``."""
    t = translator(lang, LOCALE_DIR)
    # The callables go on the shared environment just before rendering. Rendering is
    # synchronous and nothing awaits between these two statements, so no other request
    # can run in between and see this request's language.
    _env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        t.gettext, t.ngettext, newstyle=True
    )
    html = _env.get_template(template).render(
        lang=lang,
        here=here,
        fmt=Formatter(lang),
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        css=static_url(request.app.router, "attendee.css"),
        js=static_url(request.app.router, "attendee.js"),
        **context,
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = cache_control
    response.headers["Vary"] = "Accept-Language, Cookie"
    remember_language(request, response)
    return response


def see_other(request: web.Request, location: str) -> web.Response:
    """303: after a POST, so reloading the next page never sends the form again; never
    cached, as where it points may differ next time."""
    response = web.Response(status=303, headers={"Location": location})
    response.headers["Cache-Control"] = "no-store"
    remember_language(request, response)
    return response


def not_found(request: web.Request, lang: str | None = None) -> web.Response:
    """The localized 404 page; also what a wrong capability secret gets."""
    lang = lang or page_language(request)
    return render(request, "not_found.html", lang=lang, here="/events/", status=404)
