"""Server-rendered pages: the one way the services make their Jinja2 environment, and what
a page of the organizer console needs when another service than registration serves it
(notify's ``/console/notify``, stamprally's ``/console/rally``): the organizer of the
console's session, the language the console speaks, and the form's CSRF token.

The console's session cookie carries the organizer's signed token (``O1.``), which each
service checks with its copy of the public keys, as it does for the API. A form has its
own CSRF token (a random value in a SameSite=Strict cookie and in the form: double
submit), on top of the session cookie being SameSite=Strict.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2.ext import babel_extract

from shared.auth import OrganizerClaims, organizer_of_token
from shared.catalogs import Source
from shared.errors import Unauthorized
from shared.formatting import plain
from shared.http import is_secure
from shared.i18n import Translator, negotiate, normalize
from shared.keys import KeyCache

SHARED_TEMPLATES = Path(__file__).resolve().parent / "templates"
# The frame of a console page served by another service than registration.
CONSOLE_SHELL = SHARED_TEMPLATES / "console_shell.html"
CONSOLE_TABS = SHARED_TEMPLATES / "console_tabs.html"  # the event's tabs
SESSION_COOKIE = "tomoni_session"
LANG_COOKIE = "tomoni_lang"
LOGIN = "/console/login"


def page_environment(templates: Path) -> Environment:
    """HTML-escaping, strict about undefined names, with gettext (installed per render)
    and the ``plain`` filter for translations where markup cannot go. The service's own
    templates come first, then the shared ones (``console_shell.html``)."""
    env = Environment(
        loader=FileSystemLoader([templates, SHARED_TEMPLATES]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.filters["plain"] = plain
    return env


def console_page(
    env: Environment, template: str, t: Translator, *, status: int = 200, **variables: Any
) -> web.Response:
    """A console page in the organizer's language, never cached, its address kept from
    other sites."""
    # Rendering is synchronous: no other request sees this request's language.
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    return web.Response(
        text=env.get_template(template).render(lang=t.lang, **variables),
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"},
    )


def console_sources(*own: Source) -> list[Source]:
    """What a console page's catalog reads: its own sources and the shared frame and tabs."""
    return [*own, (CONSOLE_SHELL, babel_extract), (CONSOLE_TABS, babel_extract)]


def console_translator(request: web.Request, locale_dir: Path, domain: str) -> Translator:
    """The console's language: the one chosen in the console (its cookie), else the
    browser's."""
    lang = normalize(request.cookies.get(LANG_COOKIE)) or negotiate(
        request.headers.get("Accept-Language")
    )
    return Translator(lang, locale_dirs=(locale_dir,), domain=domain)


async def console_organizer(request: web.Request, keys: KeyCache, slug: str) -> OrganizerClaims:
    """The console's organizer, allowed to see ``slug``: else to the login page, or 403."""
    try:
        org = await organizer_of_token(request.cookies.get(SESSION_COOKIE, ""), keys)
    except Unauthorized:
        raise web.HTTPSeeOther(LOGIN) from None
    if not (org.role == "admin" or slug in org.events):
        raise web.HTTPForbidden(text="403")
    return org


class FormToken:
    """A form's CSRF token: the page puts it in the form and in a cookie for ``path``;
    the POST must carry both, equal."""

    def __init__(self, cookie: str, path: str) -> None:
        self.cookie = cookie
        self.path = path

    def value(self, request: web.Request) -> str:
        """The browser's token, or a new one."""
        return request.cookies.get(self.cookie) or secrets.token_urlsafe(24)

    def set(self, request: web.Request, response: web.StreamResponse, value: str) -> None:
        response.set_cookie(
            self.cookie,
            value,
            path=self.path,
            httponly=True,
            samesite="Strict",
            secure=is_secure(request),
        )

    def check(self, request: web.Request, posted: Mapping[str, object]) -> None:
        """403 unless the form's token is the cookie's."""
        expected = request.cookies.get(self.cookie, "")
        given = str(posted.get("csrf", ""))
        if not expected or not secrets.compare_digest(given, expected):
            raise web.HTTPForbidden(text="403 csrf")
