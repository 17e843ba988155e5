"""Logging in and out of the console, and choosing its language.

The login form has no session yet, so it is protected by a double-submit token: the page
sets a random value in a SameSite=Strict cookie and in a hidden field, and the POST must
carry both. A page on another site can make a browser POST here but cannot read or set
that cookie, so it cannot log an organizer into an account of its choosing.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from services.registration import organizers
from services.registration.console.web import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    UI,
    is_secure,
    page,
    redirect,
    safe_next,
    same_token,
    set_session_cookie,
)
from services.registration.handlers import account_guard, limit
from shared.errors import Unauthorized
from shared.i18n import normalize
from shared.ids import new_secret


def _login_page(ui: UI, *, status: int = 200, error: str = "", email: str = "") -> web.Response:
    token = new_secret(24)
    response = ui.render(
        "login.html",
        status=status,
        login_csrf=token,
        error=error,
        email=email,
        next=safe_next(ui.request.query.get("next") or ui.value("next")),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path=f"{PREFIX}/login",
        httponly=True,
        samesite="Strict",
        secure=is_secure(ui.request),
    )
    return response


@page(public=True)
async def login_form(ui: UI) -> web.StreamResponse:
    token = ui.request.cookies.get(SESSION_COOKIE)
    if token:
        with contextlib.suppress(Unauthorized):
            await organizers.authenticate(ui.rt, token, "console")
            return redirect(safe_next(ui.request.query.get("next")))
    return _login_page(ui)


@page(public=True)
async def login_submit(ui: UI) -> web.StreamResponse:
    limit(ui.request, "login")
    email, password = ui.value("email"), ui.form.get("password")
    if not same_token(ui.form.get("csrf"), ui.request.cookies.get(LOGIN_COOKIE)):
        message = ui._("The login form expired. Please try again.")
        return _login_page(ui, status=403, error=message, email=email)
    # One message for an unknown email and a wrong password: the form must not tell a
    # stranger which addresses have accounts.
    failed = ui._("The email address or password is not correct.")
    if not isinstance(password, str) or not email or len(email) > 254 or len(password) > 200:
        return _login_page(ui, status=401, error=failed, email=email)
    try:
        async with account_guard(ui.request, email):
            token, _expires, _org = await organizers.login(ui.rt, email, password, "console")
    except Unauthorized:
        return _login_page(ui, status=401, error=failed, email=email)
    old = ui.request.cookies.get(SESSION_COOKIE)
    if old:
        await organizers.logout(ui.rt, old)
    response = redirect(safe_next(ui.value("next")))
    set_session_cookie(ui.request, response, token)
    response.del_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
    return response


@page
async def logout(ui: UI) -> web.StreamResponse:
    assert ui.token is not None
    await organizers.logout(ui.rt, ui.token)
    response = redirect(f"{PREFIX}/login")
    response.del_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@page(public=True)
async def choose_language(ui: UI) -> web.StreamResponse:
    """Remember the language for the console (and the attendee pages, which read the
    same cookie), then go back to the page the organizer was on."""
    response = redirect(safe_next(ui.request.query.get("next")))
    lang = normalize(ui.request.query.get("lang"))
    if lang:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=is_secure(ui.request),
        )
    return response
