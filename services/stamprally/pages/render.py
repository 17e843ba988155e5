"""How a stamp card page becomes HTML: the page language, the catalogs, Jinja2, and the
localized formatting of times and multilingual rally texts.

The same rules as registration's attendee pages (a service never imports another, so
they are kept here in a few lines): plain server-rendered HTML that works without
JavaScript, in the language the attendee picked (``?lang=``, remembered in the
``tomoni_lang`` cookie), else the language of their registration, else the phone's.
Every user-facing string is a gettext msgid (English) looked up in
``services/stamprally/locale``; Japanese msgstrs carry furigana as ``<ruby>`` markup,
which is why translations are trusted as HTML (newstyle gettext under autoescape returns
:class:`~markupsafe.Markup`) and why :func:`~shared.formatting.plain` exists for the few
places HTML cannot go (``<title>``, attributes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from shared.formatting import Formatter
from shared.http import page_language, remember_language
from shared.http import static_url as shared_static_url
from shared.i18n import LANGUAGE_NAMES, LANGUAGES, translator
from shared.templating import page_environment

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates" / "rally"
LOCALE_DIR = HERE / "locale"
STATIC_DIR = HERE / "static" / "rally"
STATIC_PREFIX = "/rally/static"


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated where it is shown (in a template)."""
    return message


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
    cache_control: str = "no-store",
    **context: Any,
) -> web.Response:
    """Render ``template`` in ``lang``. ``here`` is the page's own GET path: the language
    picker links to it with ``?lang=``."""
    t = translator(lang, LOCALE_DIR)
    # Rendering is synchronous and nothing awaits between these two statements, so no
    # other request can run in between and see this request's language.
    _env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        t.gettext, t.ngettext, newstyle=True
    )
    router = request.app.router
    html = _env.get_template(template).render(
        lang=lang,
        here=here,
        fmt=Formatter(lang),
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        css=static_url(router, "rally.css"),
        js=static_url(router, "card.js"),
        jsqr=static_url(router, "vendor/jsqr-1.4.0.min.js"),
        **context,
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = cache_control
    response.headers["Vary"] = "Accept-Language, Cookie"
    remember_language(request, response)
    return response


def not_found(request: web.Request, lang: str | None = None) -> web.Response:
    """The localized 404 page; also what a wrong capability secret gets."""
    lang = lang or page_language(request)
    return render(request, "not_found.html", lang=lang, here=request.path, status=404)


async def html_error(request: web.Request, status: int, code: str) -> web.StreamResponse:
    """Errors on ``/rally/`` pages are pages: a localized 404 page; others fall back to the
    problem document (the pages catch the errors they expect themselves)."""
    from shared.http import problem

    if status == 404:
        return not_found(request)
    return problem(request, status, code)
