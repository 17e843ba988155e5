"""The HTTP edge every service shares: problem+json errors (RFC 9457) in the caller's
language, the correlation id, the body size limit, security headers, and health.

Handlers raise :mod:`shared.errors`; :func:`error_middleware` is the one place that turns
an exception into a response. A request that fails stores nothing because the service
layer commits only at the end of its one transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared import errors
from shared.i18n import Translator, negotiate, translator
from shared.ids import uuid7
from shared.logging import correlation_id

logger = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_CORRELATION_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Titles of problems, looked up in the catalogs by code. English source strings.
TITLES: dict[str, str] = {
    "internal_error": "Something went wrong on our side. Please try again later.",
    "validation_failed": "Some of the information is not valid. Please check it.",
    "not_found": "We could not find this page or item.",
    "conflict": "This conflicts with something already registered.",
    "gone": "This is no longer valid.",
    "unauthorized": "Please sign in.",
    "forbidden": "You are not allowed to do this.",
    "payload_too_large": "What you sent is too large.",
    "rate_limited": "Too many requests. Please wait a moment and try again.",
    "unavailable": "The service is busy or restarting. Please try again in a moment.",
    "method_not_allowed": "This action is not allowed here.",
    "malformed_json": "The request body is not valid JSON.",
}

# A specific code without a title of its own (duplicate_registration, device_revoked…)
# gets its status's general title, never "something went wrong on our side".
_GENERAL = {
    400: "validation_failed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}

# Messages of field errors, by code (pydantic's error types and our own).
FIELD_MESSAGES: dict[str, str] = {
    "missing": "This field is required.",
    "invalid": "This value is not valid.",
    "too_long": "This is too long.",
    "too_short": "This is too short.",
    "unknown_field": "This field is not expected.",
}

_PYDANTIC_CODES = {
    "missing": "missing",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "too_long": "too_long",
    "too_short": "too_short",
    "extra_forbidden": "unknown_field",
}

TRANSLATOR_KEY = web.AppKey("translator_dirs", tuple)
HtmlErrorPage = Callable[[web.Request, int, str], Awaitable[web.StreamResponse]]
# A service with pages sets this: its pages' errors are then HTML in the page language.
HTML_ERRORS = web.AppKey("html_errors", object)


def is_secure(request: web.Request) -> bool:
    """Whether the browser reached us over https, directly or through the city's proxy
    (``X-Forwarded-Proto``; trusting it can only add ``Secure`` to a cookie)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def request_translator(request: web.Request) -> Translator:
    dirs: tuple[Path, ...] = request.config_dict.get(TRANSLATOR_KEY, ())
    return translator(request_language(request), *dirs)


LANG_COOKIE = "tomoni_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def page_language(request: web.Request, registered: str | None = None) -> str:
    """The language of an attendee's page: ``?lang=``, then the ``tomoni_lang`` cookie (an
    unknown ``?lang`` does not hide the cookie), then the registration's own language on
    the pages of one registration (a link opened on another phone), then
    ``Accept-Language``."""
    from shared.i18n import normalize

    chosen = normalize(request.query.get("lang")) or normalize(request.cookies.get(LANG_COOKIE))
    return chosen or normalize(registered) or negotiate(request.headers.get("Accept-Language"))


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    """An explicit ``?lang=`` choice is kept for a year, for every Tomoni page."""
    from shared.i18n import normalize

    chosen = normalize(request.query.get("lang"))
    if chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            path="/",
            samesite="Lax",
            secure=is_secure(request),
        )


_static_urls: dict[tuple[str, str], str] = {}


def static_url(router: web.UrlDispatcher, prefix: str, filename: str) -> str:
    """``<prefix>/<file>?v=<content hash>`` (aiohttp's ``append_version``): a changed file
    gets a new URL, so phones and service workers never keep a stale one. Files do not
    change while the process runs, so each hash is computed once."""
    key = (prefix, filename)
    if key not in _static_urls:
        url = f"{prefix}/{filename}"
        for resource in router.resources():
            if isinstance(resource, web.StaticResource) and resource.canonical == prefix:
                url = str(resource.url_for(filename=filename))
        _static_urls[key] = url
    return _static_urls[key]


def request_language(request: web.Request) -> str:
    chosen = request.query.get("lang") or request.cookies.get("tomoni_lang")
    from shared.i18n import normalize

    return normalize(chosen) or negotiate(request.headers.get("Accept-Language"))


async def _error_response(
    request: web.Request,
    status: int,
    code: str,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> web.StreamResponse:
    page = request.app.get(HTML_ERRORS)
    if page is not None and not request.path.startswith("/api/"):
        response: web.StreamResponse = await page(request, status, code)  # type: ignore[operator]
        if headers:
            response.headers.update(headers)
        return response
    return problem(request, status, code, headers=headers, **kw)


def problem(
    request: web.Request,
    status: int,
    code: str,
    *,
    detail: str | None = None,
    field_errors: list[errors.FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    t = request_translator(request)
    body: dict[str, Any] = {
        "type": f"https://tomoni.invalid/problems/{code}",
        "title": t.gettext(TITLES.get(code) or TITLES[_GENERAL.get(status, "internal_error")]),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if field_errors is not None:
        body["errors"] = [
            {
                "field": fe.field,
                "code": fe.code,
                "message": t.gettext(FIELD_MESSAGES.get(fe.code, FIELD_MESSAGES["invalid"])),
            }
            for fe in field_errors
        ]
    cid = correlation_id.get()
    if cid:
        body["correlation_id"] = cid
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False),
        content_type=PROBLEM,
        charset="utf-8",
        headers=headers,
    )


def field_errors_from(exc: ValidationError, prefix: str = "") -> list[errors.FieldError]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"] if p != "__root__")
        out.append(
            errors.FieldError(
                field=f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body",
                code=_PYDANTIC_CODES.get(e["type"], "invalid"),
            )
        )
    return out


async def parse_body(request: web.Request, model: type[BaseModel]) -> Any:
    """Read and validate a JSON body; malformed → 400, invalid → 422, too large → 413."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise errors.PayloadTooLarge() from None
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise errors.TomoniError(code="malformed_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.ValidationFailed(field_errors_from(exc)) from None


@web.middleware
async def correlation_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    given = request.headers.get("Correlation-Id", "")
    cid = given if _CORRELATION_OK.match(given) else str(uuid7())
    token = correlation_id.set(cid)
    try:
        response = await handler(request)
        response.headers["Correlation-Id"] = cid
        return response
    finally:
        correlation_id.reset(token)


_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A pooled connection that PostgreSQL's shutdown message reached while it sat idle is
    # left by asyncpg in an error state until the socket closes a moment later; a request
    # that takes it in between gets this, not a connection error
    # (tests/e2e/test_pg_restart.py). The connection is replaced once closed.
    asyncpg.exceptions.InternalClientError,
)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.ValidationFailed as exc:
        return await _error_response(request, 422, exc.code, field_errors=exc.errors)
    except errors.RateLimited as exc:
        return await _error_response(
            request, 429, exc.code, headers={"Retry-After": str(exc.retry_after)}
        )
    except errors.Unavailable as exc:
        return await _error_response(
            request, 503, exc.code, headers={"Retry-After": str(exc.retry_after)}
        )
    except errors.TomoniError as exc:
        status = 400 if exc.code == "malformed_json" else exc.status
        return await _error_response(request, status, exc.code)
    except web.HTTPRequestEntityTooLarge:
        return await _error_response(request, 413, "payload_too_large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status, "internal_error" if exc.status >= 500 else "validation_failed"
        )
        if not request.path.startswith("/api/") and request.app.get(HTML_ERRORS) is None:
            raise
        return await _error_response(request, exc.status, code, headers=_keep_allow(exc))
    except asyncio.CancelledError:
        raise
    except _UNAVAILABLE as exc:
        logger.warning("dependency unavailable", extra={"error": type(exc).__name__})
        return await _error_response(request, 503, "unavailable", headers={"Retry-After": "2"})
    except asyncpg.DataError as exc:
        # PostgreSQL refused a value it was given (a U+0000 in text, a date outside years
        # 1–9999 once in UTC…): the request's fault, and the transaction is rolled back.
        logger.info("value refused by the database", extra={"error": type(exc).__name__})
        return await _error_response(request, 422, "validation_failed")
    except Exception:
        logger.exception("unhandled error", extra={"path": request.path})
        return await _error_response(request, 500, "internal_error")


def _keep_allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else None


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)


def middlewares() -> list[Any]:
    return [correlation_middleware, error_middleware]


def new_app(max_body_bytes: int, locale_dir: Path | None = None) -> web.Application:
    """An application with the shared middlewares, body limit and security headers."""
    app = web.Application(middlewares=middlewares(), client_max_size=max_body_bytes)
    app[TRANSLATOR_KEY] = (locale_dir,) if locale_dir else ()
    app.on_response_prepare.append(_security_headers)
    return app


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False, default=str),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )
