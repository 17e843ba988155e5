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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from shared.formatting import Formatter
from shared.http import page_language, remember_language
from shared.http import static_url as shared_static_url
from shared.i18n import LANGUAGE_NAMES, LANGUAGES, translator
from shared.templating import page_environment

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates" / "attendee"
LOCALE_DIR = HERE / "locale"
STATIC_PREFIX = "/events/static"


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated where it is shown (in a template)."""
    return message


@dataclass(frozen=True)
class Msg:
    """A msgid and its parameters, translated by the template that shows it."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)


# -- templates --------------------------------------------------------------------------
_env = page_environment(TEMPLATES)


def static_url(router: web.UrlDispatcher, filename: str) -> str:
    return shared_static_url(router, STATIC_PREFIX, filename)


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
