"""What every console page shares: the session cookie and its CSRF token, the language
and the locale formats, the templates, and how errors become HTML pages.

Why a session cookie rather than the API's bearer token: the console is plain HTML that
must work without JavaScript, so the browser has to carry the credential. The cookie is
HttpOnly (no script can read it), SameSite=Strict and limited to ``/console``; every form
that changes something also carries the session's CSRF token, compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from yarl import URL

from services.registration import organizers
from services.registration.console.formats import (
    TOKYO,
    fmt_num,
    fmt_phone,
    fmt_short,
    fmt_when,
    pick,
)
from services.registration.handlers import rt_of
from services.registration.organizers import SESSION_HOURS, Organizer
from shared.errors import Forbidden, NotFound, RateLimited, Unauthorized
from shared.http import is_secure, request_language
from shared.i18n import LANGUAGE_NAMES, LANGUAGES, Translator
from shared.runtime import Runtime
from shared.templating import SHARED_TEMPLATES

REGISTRATION = Path(__file__).resolve().parent.parent
TEMPLATES = REGISTRATION / "templates" / "console"
STATIC = REGISTRATION / "static" / "console"
LOCALE = REGISTRATION / "locale"
DOMAIN = "console"

PREFIX = "/console"
SESSION_COOKIE = "tomoni_session"
LOGIN_COOKIE = "tomoni_login_csrf"
LANG_COOKIE = "tomoni_lang"

Handler = Callable[["UI"], Awaitable[web.StreamResponse]]
Wrapped = Callable[[web.Request], Awaitable[web.StreamResponse]]


def N_(message: str) -> str:
    """Mark a string for the catalog where it is defined; it is translated where shown."""
    return message


# -- small pure helpers -----------------------------------------------------------------
def safe_next(value: str | None, default: str = f"{PREFIX}/") -> str:
    """A redirect target that stays inside the console: an absolute path under
    ``/console``, never a scheme, a host, ``//`` or a backslash (an open redirect would
    let a phishing link land a logged-in organizer on another site)."""
    if not value or not value.startswith(PREFIX) or "\\" in value:
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
        return default
    if parts.path not in (PREFIX, f"{PREFIX}/") and not parts.path.startswith(f"{PREFIX}/"):
        return default
    return value


def with_notice(location: str, notice: str) -> str:
    """The page to go back to, with a notice code (never personal data) in its query."""
    return str(URL(location).update_query(notice=notice))


def same_token(given: object, expected: str | None) -> bool:
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound() from None


@functools.cache
def static_url(name: str) -> str:
    """A static file's URL with a content hash, so a new release is never served stale."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    return f"{PREFIX}/static/{name}?v={digest}"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([TEMPLATES, SHARED_TEMPLATES]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static=static_url, LANGUAGES=LANGUAGES, LANGUAGE_NAMES=LANGUAGE_NAMES)
    return env


@functools.cache
def translator(lang: str) -> Translator:
    return Translator(lang, locale_dirs=(LOCALE,), domain=DOMAIN)


def template_gettext(t: Translator) -> Callable[..., Markup]:
    """``_`` for templates: the translation escaped, then ``%(name)s`` filled with
    escaped values (Markup's ``%`` escapes its arguments)."""

    def _(message: str, **params: Any) -> Markup:
        text = escape(t.gettext(message))
        return text % params if params else text

    return _


# -- the request's view of the console --------------------------------------------------
@dataclass
class UI:
    """One console request: who is asking, in which language, and what they sent."""

    request: web.Request
    lang: str
    t: Translator
    org_: Organizer | None = None
    token: str | None = None
    form: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, request: web.Request) -> UI:
        lang = request_language(request)
        return cls(request=request, lang=lang, t=translator(lang))

    @property
    def rt(self) -> Runtime:
        return rt_of(self.request)

    @property
    def org(self) -> Organizer:
        if self.org_ is None:
            raise Unauthorized()
        return self.org_

    def _(self, message: str, **params: Any) -> str:
        text = self.t.gettext(message)
        return text % params if params else text

    def value(self, name: str) -> str:
        """A form field as text ('' when missing or a file)."""
        got = self.form.get(name)
        return got.strip() if isinstance(got, str) else ""

    def match(self, name: str) -> str:
        return self.request.match_info[name]

    def context(self) -> dict[str, Any]:
        lang = self.lang
        return {
            "_": template_gettext(self.t),
            "lang": lang,
            "org": self.org_,
            "csrf": self.org_.csrf_token if self.org_ else "",
            "here": self.request.path_qs,
            "path": self.request.path,
            "pick": lambda text, code=None: pick(text, code or lang),
            "fmt_num": lambda n, code=None: fmt_num(n, code or lang),
            "fmt_when": lambda d, tz=TOKYO, code=None: fmt_when(d, code or lang, tz),
            "fmt_short": lambda d: fmt_short(d, lang),
            "fmt_phone": fmt_phone,
        }

    def render(self, template: str, *, status: int = 200, **values: Any) -> web.Response:
        html = environment().get_template(template).render({**self.context(), **values})
        return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")

    def error_page(self, status: int, message: str) -> web.Response:
        return self.render("error.html", status=status, status_code=status, message=message)


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser fetches the next page with GET."""
    return web.Response(status=303, headers={"Location": location})


def to_login(ui: UI) -> web.Response:
    """Send someone without a valid session to the login page, remembering where they
    were going (a GET only: a POST cannot be replayed after logging in)."""
    here = ui.request.path_qs if ui.request.method == "GET" else f"{PREFIX}/"
    target = str(URL(f"{PREFIX}/login").with_query(next=safe_next(here)))
    response = redirect(target)
    if ui.request.cookies.get(SESSION_COOKIE):
        response.del_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
    )


class CsrfFailed(Forbidden):
    code = "csrf_failed"


@overload
def page(handler: Handler) -> Wrapped: ...
@overload
def page(*, public: bool = False) -> Callable[[Handler], Wrapped]: ...
def page(
    handler: Handler | None = None, *, public: bool = False
) -> Wrapped | Callable[[Handler], Wrapped]:
    """Wrap a console handler: load the session (or redirect to the login page), check
    the CSRF token of every POST, and turn the errors a page can meet into HTML pages.
    Anything else goes on to the shared error middleware, which logs it."""

    def wrap(fn: Handler) -> Wrapped:
        @functools.wraps(fn)
        async def run(request: web.Request) -> web.StreamResponse:
            ui = UI.of(request)
            try:
                if not public:
                    token = request.cookies.get(SESSION_COOKIE, "")
                    try:
                        if not token:
                            raise Unauthorized()
                        ui.org_ = await organizers.authenticate(ui.rt, token, "console")
                    except Unauthorized:
                        return _no_store(to_login(ui))
                    ui.token = token
                if request.method == "POST":
                    ui.form = await request.post()
                    if not public and not same_token(ui.form.get("csrf"), ui.org.csrf_token):
                        raise CsrfFailed()
                response = await fn(ui)
            except CsrfFailed:
                response = ui.error_page(
                    403,
                    ui._(
                        "This form has expired or was not sent from this console. "
                        "Go back, reload the page and try again."
                    ),
                )
            except Forbidden:
                response = ui.error_page(
                    403,
                    ui._(
                        "You do not have access to this event. "
                        "Ask an administrator to assign it to you."
                    ),
                )
            except NotFound:
                response = ui.error_page(404, ui._("This page or item does not exist."))
            except RateLimited as exc:
                response = ui.error_page(
                    429, ui._("Too many attempts. Please wait a minute and try again.")
                )
                response.headers["Retry-After"] = str(exc.retry_after)
            return _no_store(response)

        return run

    return wrap(handler) if handler is not None else wrap


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    # Console pages show personal data: no shared or back-button cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    return response
