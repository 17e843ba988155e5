"""Notify's one page: what the unsubscribe link in an announcement opens, in the
registrant's language (or the one they pick with ``?lang=``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.notify.render import page
from shared.formatting import Formatter
from shared.i18n import negotiate, normalize
from shared.runtime import Runtime

STATIC_PREFIX = "/notify/static"


async def unsubscribe_page(
    request: web.Request,
    rt: Runtime,
    person: Any,
    state: str,
    token: str,
    *,
    status: int = 200,
) -> web.Response:
    lang = (
        normalize(request.query.get("lang"))
        or normalize(request.cookies.get("tomoni_lang"))
        or normalize(person["language"] if person else None)
        or negotiate(request.headers.get("Accept-Language"))
    )
    event = ""
    if person is not None:
        row = await rt.pool.fetchrow("SELECT title FROM events WHERE slug = $1", person["event"])
        event = Formatter(lang).text(row["title"] if row else {}).text
    body = page(
        "page_unsubscribe.html",
        lang,
        state=state,
        token=token,
        event=event,
        action="/notify/unsubscribe",
        css=f"{STATIC_PREFIX}/notify.css",
    )
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
