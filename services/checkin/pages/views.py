"""The scanner's pages and the small files its scripts need (strings, service worker).

The HTML is a shell: the scripts fill in the event, the gate and the answers, and switch
the text to the volunteer's own language (kept on the phone) with the strings from
:func:`ui_strings`. The shell is rendered in the request's language so it reads right
before the scripts run, and so a phone without a stored choice starts in its own.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

from services.checkin import repository, service
from services.checkin.handlers import SCANNER_ROLES, current_device_of, rt_of
from shared.http import json_response, request_language
from shared.http import static_url as shared_static_url
from shared.i18n import LANGUAGE_NAMES, LANGUAGES, normalize, translator
from shared.templating import page_environment

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates" / "scan"
LOCALE_DIR = HERE / "locale"
POT = LOCALE_DIR / "messages.pot"
STATIC_DIR = HERE / "static" / "scan"
STATIC_PREFIX = "/scan/static"
SW_SOURCE = TEMPLATES / "sw.js"
DEFAULT_TIMEZONE = "Asia/Tokyo"

# What the service worker keeps for offline use (THIRD_PARTY.md and licences are not
# needed by the app; they are served but not cached).
_CACHED_SUFFIXES = (".js", ".css", ".svg", ".png", ".webmanifest")
# The scripts of the pages, in load order (each file adds to ``window.Tomoni``).
COMMON_SCRIPTS = ("common.js", "i18n.js")
SCANNER_SCRIPTS = (
    "vendor/jsqr-1.4.0.min.js",
    "vendor/qrcode-generator-2.0.4.min.js",
    "store.js",
    "ticket.js",
    "feedback.js",
    "camera.js",
    "sync.js",
    "rally.js",
    "result.js",
    "boothcode.js",
    "scanner.js",
)
PAIR_SCRIPTS = ("pair.js",)

# Babel names Tagalog by its standard form, Filipino.
_BABEL_LOCALE = {"tl": "fil"}

_env = page_environment(TEMPLATES)


# -- static files -----------------------------------------------------------------------
def static_url(app: web.Application, filename: str) -> str:
    """``/scan/static/<file>?v=<content hash>``: see :func:`shared.http.static_url`."""
    return shared_static_url(app.router, STATIC_PREFIX, filename)


def cached_assets(app: web.Application) -> list[str]:
    files = sorted(
        p.relative_to(STATIC_DIR).as_posix()
        for p in STATIC_DIR.rglob("*")
        if p.is_file() and p.suffix in _CACHED_SUFFIXES
    )
    return [static_url(app, f) for f in files]


# -- catalogs ---------------------------------------------------------------------------
@cache
def catalog_msgids() -> tuple[str, ...]:
    """Every msgid of the checkin catalog: the scanner's UI strings and the answers'."""
    if not POT.exists():
        return ()
    with POT.open("rb") as f:
        catalog = read_po(f, domain="messages")
    return tuple(str(m.id) for m in catalog if m.id and isinstance(m.id, str))


def _locale(lang: str) -> Locale | None:
    try:
        return Locale.parse(_BABEL_LOCALE.get(lang, lang))
    except (UnknownLocaleError, ValueError):
        return None


def language_names(lang: str) -> dict[str, dict[str, str]]:
    """Each language's name in ``lang`` and in itself, e.g. for ``ja``:
    ``{"vi": {"local": "ベトナム語", "own": "Tiếng Việt"}}``."""
    loc = _locale(lang)
    out = {}
    for code in LANGUAGES:
        local = None
        if loc is not None:
            local = loc.languages.get(code) or loc.languages.get(_BABEL_LOCALE.get(code, code))
        out[code] = {"local": local or LANGUAGE_NAMES[code], "own": LANGUAGE_NAMES[code]}
    return out


@cache
def strings_for(lang: str) -> dict[str, Any]:
    t = translator(lang, LOCALE_DIR)
    return {
        "lang": lang,
        "strings": {m: t.gettext(m) for m in catalog_msgids()},
        # The answers of the scan API by result or reason code (service.MESSAGES).
        "results": {code: t.gettext(m) for code, m in service.MESSAGES.items()},
        "languages": language_names(lang),
    }


# -- pages ------------------------------------------------------------------------------
def _render(request: web.Request, template: str, scripts: tuple[str, ...], **ctx: Any) -> str:
    lang = request_language(request)
    t = translator(lang, LOCALE_DIR)

    def gettext(msgid: str, **params: Any) -> str:
        text = t.gettext(msgid)
        return text % params if params else text

    app = request.app
    return _env.get_template(template).render(
        _=gettext,
        lang=lang,
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        css=static_url(app, "scan.css"),
        manifest=static_url(app, "manifest.webmanifest"),
        icon=static_url(app, "icon.svg"),
        scripts=[static_url(app, s) for s in (*COMMON_SCRIPTS, *scripts)],
        **ctx,
    )


def _page(html: str) -> web.Response:
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    # The service worker keeps its own copy for offline use; the browser asks again.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


async def to_scanner(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/scan/")


async def scanner_page(request: web.Request) -> web.StreamResponse:
    return _page(_render(request, "scanner.html", SCANNER_SCRIPTS))


async def pair_page(request: web.Request) -> web.StreamResponse:
    code = request.query.get("code", "")[:32]
    return _page(_render(request, "pair.html", PAIR_SCRIPTS, code=code))


async def ui_strings(request: web.Request) -> web.StreamResponse:
    lang = normalize(request.match_info["lang"])
    if lang is None or lang != request.match_info["lang"]:
        raise web.HTTPNotFound()
    return json_response(strings_for(lang), headers={"Cache-Control": "no-cache"})


# -- the service worker -----------------------------------------------------------------
def _sw_config(app: web.Application) -> dict[str, Any]:
    assets = cached_assets(app)
    pages = ["/scan/", "/scan/pair"]
    strings = [f"/scan/i18n/{lang}.json" for lang in LANGUAGES]
    h = hashlib.sha256()
    h.update(json.dumps([assets, pages, strings]).encode())
    for path in sorted([SW_SOURCE, *TEMPLATES.glob("*.html"), *LOCALE_DIR.rglob("*.po")]):
        h.update(path.read_bytes())
    # The strings of each language are kept too, but a failure to fetch one of them must
    # not stop the worker from installing on a bad network (it tries again when used).
    return {"version": h.hexdigest()[:16], "pages": pages, "assets": assets, "optional": strings}


_sw_text: dict[str, str] = {}


async def service_worker(request: web.Request) -> web.StreamResponse:
    """Served from ``/scan/`` so that its scope is the whole app. Its first line names
    the files to keep and a version made from their hashes: a new deployment changes the
    worker's bytes, so phones pick it up and drop the old cache."""
    if "text" not in _sw_text:
        config = json.dumps(_sw_config(request.app), separators=(",", ":"))
        _sw_text["text"] = f"self.TOMONI_SW = {config};\n" + SW_SOURCE.read_text("utf-8")
    return web.Response(
        text=_sw_text["text"],
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


# -- the scanner's event ----------------------------------------------------------------
async def event_info(request: web.Request) -> web.StreamResponse:
    """What the scanner shows and needs offline about its event: the title, the time zone
    (for "first entered at"), and each category's title and re-entry rule. For gates,
    booths and the prize desk alike."""
    device = await current_device_of(request, SCANNER_ROLES)
    pool = rt_of(request).pool
    event = await repository.get_event(pool, device.event)
    # Read-only lookup of checkin's own read model for this page.
    rows = await pool.fetch(
        "SELECT code, title, reentry FROM categories WHERE event_slug = $1 ORDER BY code",
        device.event,
    )
    return json_response(
        {
            "event": device.event,
            "place": device.place,
            "title": event["title"] if event else None,
            "timezone": event["timezone"] if event else DEFAULT_TIMEZONE,
            "categories": {r["code"]: {"title": r["title"], "reentry": r["reentry"]} for r in rows},
        },
        headers={"Cache-Control": "no-store"},
    )
