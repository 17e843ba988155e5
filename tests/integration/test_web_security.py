"""Web security of the browser-facing surface, over all four services composed on one
origin as ``tomoni up`` runs them, reached as the city's TLS proxy forwards a browser
(``TOMONI_TRUST_PROXY`` on, ``X-Forwarded-Proto: https``):

1. **CSRF.** Every POST route under ``/console`` is taken from the running routers and
   must have a row in ``FORMS`` (the page its form is on), so a new console form fails
   ``test_every_console_post_route_is_classified`` until someone classifies it. Each form
   is loaded as a browser loads it, then posted without its token (the session cookie
   alone), with an empty, a random and another session's token, and, where the token also
   sits in a cookie (double submit), without that cookie: every such POST must be refused
   and leave the database exactly as it was. The form as the page gave it must work.
2. **Headers.** Every served GET route and a list of response kinds (API JSON, problems,
   attendee pages, console pages, the scanner app, the stamp card, static files, error
   pages, 413, 429, streams) carry a CSP that does not allow inline scripts and forbids
   framing, ``nosniff`` and a Referrer-Policy that never sends a path to another site; no
   HTML page has an inline script or an inline event handler (the pages are parsed).
3. **Cookies** are HttpOnly (except the language choice, which is no secret), SameSite,
   and Secure when the browser came over TLS through the proxy.
4. **No enumeration.** Capabilities are unguessable; a wrong secret for an existing
   registration and an unknown registration get the same status and body (as do a
   ticket's image, the stamp card and the unsubscribe link); unknown pairing codes are
   indistinguishable; an unknown email and a wrong password get the same answer.

Every checker also runs once against something deliberately weak (a tiny application, a
bare response), so each can be seen to fail.
"""

from __future__ import annotations

import io
import math
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp import ClientTimeout, DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict, CIMultiDictProxy

from services.notify import service as notify_service
from services.registration import devices as registration_devices
from services.registration.handlers import LIMITS
from shared.compose import compose
from shared.embedded import free_port
from shared.ids import new_secret, uuid7
from shared.ratelimit import RateLimiter
from shared.runtime import RUNTIME
from shared.testing import wait_until
from tests.integration.authz_support import Served, fill, served_routes
from tests.integration.fullstack import event_body, four_apps
from tests.integration.regfixtures import ADMIN

REG = "/api/registration"
C, E, RID = "/console", "/console/events/{slug}", "/console/registrations/{id}"
# How the city's proxy forwards a browser that came over https (deploy/compose/nginx.conf).
PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.10"}
FIXED_CID = "security-probe-0001"  # a fixed correlation id: problem bodies then compare


# -- reading pages ----------------------------------------------------------------------
@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class PageParser(HTMLParser):
    """The forms of a page (what a browser would submit), and every inline script: a
    ``<script>`` without ``src`` or with a body, an ``on…=`` handler, a ``javascript:``
    URL. A CSP without 'unsafe-inline' blocks all three; the pages must not need them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.inline: list[str] = []
        self._form: Form | None = None
        self._script = False
        self._select: list[Any] | None = None  # [name, chosen, first]
        self._textarea: list[Any] | None = None  # [name, text parts]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs}
        for name, value in a.items():
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}=…> (an inline event handler)")
            if name in ("href", "src", "action", "formaction", "xlink:href") and (
                (value or "").strip().lower().startswith("javascript:")
            ):
                self.inline.append(f"<{tag} {name}={value!r}> (a javascript: URL)")
        if tag == "script":
            self._script = True
            if not a.get("src"):
                self.inline.append("<script> without src (an inline script)")
        elif tag == "form":
            self._form = Form((a.get("method") or "get").lower(), a.get("action") or "")
        elif self._form is not None:
            self._field(tag, a)

    def _field(self, tag: str, a: dict[str, str | None]) -> None:
        assert self._form is not None
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields[name] = a.get("value") or "on"
                return
            self._form.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = [name, None, None]
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            if self._select[2] is None:
                self._select[2] = value
            if "selected" in a:
                self._select[1] = value
        elif tag == "textarea" and name:
            self._textarea = [name, []]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, chosen, first = self._select
            self._form.fields[name] = chosen if chosen is not None else (first or "")
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields[self._textarea[0]] = "".join(self._textarea[1])
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.inline.append("<script> with a body (an inline script)")
        if self._textarea is not None:
            self._textarea[1].append(data)


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


# -- the header, cookie and page checkers ------------------------------------------------
# Referrer policies that never send a page's path (a capability link's secret) elsewhere.
SAFE_REFERRER = {
    "no-referrer",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
}


def csp_policies(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> list[dict[str, list[str]]]:
    policies = []
    for value in headers.getall("Content-Security-Policy", []):
        policy: dict[str, list[str]] = {}
        for part in value.split(";"):
            words = part.split()
            if words:
                policy.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
        policies.append(policy)
    return policies


def header_problems(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> list[str]:
    """What a response lacks of the headers every Tomoni response must carry."""
    problems = []
    policies = csp_policies(headers)
    if not policies:
        problems.append("no Content-Security-Policy")
    else:
        # Several policies all apply: inline scripts are blocked if any policy blocks them.
        scripts = [p.get("script-src", p.get("default-src")) for p in policies]
        if not any(s is not None and "'unsafe-inline'" not in s for s in scripts):
            problems.append(f"CSP lets inline scripts run (script sources: {scripts})")
    framing = any(p.get("frame-ancestors") == ["'none'"] for p in policies)
    if not framing and headers.get("X-Frame-Options", "").strip().upper() != "DENY":
        problems.append("framing allowed (no frame-ancestors 'none', no X-Frame-Options DENY)")
    if headers.get("X-Content-Type-Options", "").strip().lower() != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    referrer = [
        v.strip().lower()
        for value in headers.getall("Referrer-Policy", [])
        for v in value.split(",")
        if v.strip()
    ]
    if not referrer:
        problems.append("no Referrer-Policy")
    elif referrer[-1] not in SAFE_REFERRER:
        problems.append(f"Referrer-Policy {referrer[-1]!r} sends the path to other sites")
    return problems


def body_problems(content_type: str, body: str) -> list[str]:
    if "html" in content_type or "svg" in content_type:
        return sorted(set(parse_page(body).inline))
    return []


# Cookies a script may read (not a secret): the language choice. Every other cookie
# Tomoni sets is a credential or a CSRF token.
SCRIPT_READABLE = {"tomoni_lang"}


@dataclass(frozen=True)
class SetCookie:
    name: str
    value: str
    attrs: dict[str, str]

    @property
    def deletes(self) -> bool:
        return self.attrs.get("max-age") == "0" or "1970" in self.attrs.get("expires", "")


def set_cookies(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> list[SetCookie]:
    out = []
    for raw in headers.getall("Set-Cookie", []):
        first, *rest = raw.split(";")
        name, _, value = first.strip().partition("=")
        attrs = {}
        for part in rest:
            k, _, v = part.strip().partition("=")
            attrs[k.strip().lower()] = v.strip()
        out.append(SetCookie(name, value.strip('"'), attrs))
    return out


def cookie_problems(cookies: Sequence[SetCookie], *, over_tls: bool) -> list[str]:
    problems = []
    for c in cookies:
        if c.deletes:
            continue
        if "httponly" not in c.attrs and c.name not in SCRIPT_READABLE:
            problems.append(f"{c.name}: not HttpOnly")
        if c.attrs.get("samesite", "").lower() not in ("strict", "lax"):
            problems.append(f"{c.name}: no SameSite=Strict|Lax")
        if over_tls and "secure" not in c.attrs:
            problems.append(f"{c.name}: not Secure although the browser came over https")
    return problems


# -- requests ---------------------------------------------------------------------------
@dataclass
class Seen:
    label: str
    method: str
    path: str
    status: int
    headers: CIMultiDictProxy[str]
    body: str

    @property
    def ctype(self) -> str:
        return self.headers.get("Content-Type", "")

    def problems(self) -> list[str]:
        return header_problems(self.headers) + body_problems(self.ctype, self.body)


def cookie_header(cookies: Mapping[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


async def fetch(
    client: TestClient,
    method: str,
    path: str,
    *,
    label: str = "",
    headers: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    proxied: bool = True,
    **kw: Any,
) -> Seen:
    """One request, redirects not followed; a stream is judged by its headers, then
    closed; a binary body is not kept."""
    sent = {**(PROXIED if proxied else {}), **(headers or {}), **cookie_header(cookies or {})}
    resp = await client.request(
        method, path, headers=sent, allow_redirects=False, timeout=ClientTimeout(total=60), **kw
    )
    try:
        ctype = resp.headers.get("Content-Type", "")
        textual = any(t in ctype for t in ("text/", "json", "svg", "javascript", "xml"))
        body = ""
        if method != "HEAD" and "event-stream" not in ctype:
            raw = await resp.read()
            body = raw.decode("utf-8", "replace") if textual else ""
    finally:
        resp.close()
    return Seen(label or f"{method} {path}", method, path, resp.status, resp.headers, body)


# -- the running system -----------------------------------------------------------------
@dataclass
class Reg:
    id: str
    secret: str
    ticket_id: str = ""
    image_key: str = ""


@dataclass
class Site:
    client: TestClient
    apps: dict[str, web.Application]
    root: web.Application
    db: asyncpg.Pool
    admin: dict[str, str]
    slug: str
    reg: Reg
    device_token: str = ""
    unsubscribe: str = ""
    sessions: list[tuple[str, str]] = field(default_factory=list)  # (cookie, csrf)

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        r = await self.client.request(method, path, allow_redirects=False, **kw)
        body = await r.text()
        assert r.status in (200, 201, 204), (method, path, r.status, body)
        return await r.json() if r.status != 204 else None

    async def register(self, category: str = "visitor", **extra: Any) -> Reg:
        tag = uuid.uuid4().hex[:12]
        body = {"category": category, "name": f"Sec {tag}", "language": "en", **extra}
        body.setdefault("email", f"{tag}@example.org")
        made = await self.call("POST", f"{REG}/events/{self.slug}/registrations", json=body)
        ticket = made.get("ticket") or {}
        key = parse_qs(urlsplit(ticket.get("qr_png_url", "")).query).get("k", [""])[0]
        return Reg(made["id"], made["secret"], ticket.get("id", ""), key)

    async def pairing(self, place: str, role: str = "gate") -> dict[str, Any]:
        body = {"role": role, "place": place, "label": f"sec {place}"}
        made: dict[str, Any] = await self.call(
            "POST", f"{REG}/events/{self.slug}/devices", json=body, headers=self.admin
        )
        return made

    async def known(self, sql: str, *args: Any) -> None:
        await wait_until(lambda: self.db.fetchval(sql, *args), timeout=30, message=sql)


async def console_login(
    client: TestClient, email: str, password: str, *, headers: Mapping[str, str] = PROXIED
) -> tuple[str, str, list[SetCookie], list[SetCookie]]:
    """Log in to the console as a browser does: (session cookie, the session's CSRF
    token, the login page's Set-Cookies, the login answer's Set-Cookies)."""
    page = await fetch(client, "GET", f"{C}/login", headers=headers, proxied=False)
    token = next(c.value for c in set_cookies(page.headers) if c.name == "tomoni_login_csrf")
    done = await fetch(
        client,
        "POST",
        f"{C}/login",
        headers=headers,
        proxied=False,
        cookies={"tomoni_login_csrf": token},
        data={"email": email, "password": password, "csrf": token},
    )
    assert done.status == 303, done.body[:300]
    session = next(c.value for c in set_cookies(done.headers) if c.name == "tomoni_session")
    home = await fetch(client, "GET", f"{C}/", cookies={"tomoni_session": session})
    csrf = parse_page(home.body).forms
    found = [f.fields["csrf"] for f in csrf if f.action == f"{C}/logout"]
    assert found, "no CSRF token in the console's logout form"
    return session, found[0], set_cookies(page.headers), set_cookies(done.headers)


RALLY = {
    "title": {"ja": "スタンプラリー", "en": "Stamp rally"},
    "min_stamps": 1,
    "booths": [{"code": "b1", "name": {"ja": "b1", "en": "b1"}, "kind": "country"}],
    "prizes": [{"code": "p1", "name": {"ja": "景品", "en": "Prize"}, "stock": 10}],
}


@pytest.fixture(scope="module")
async def site(
    make_settings: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Site]:
    port = free_port()
    apps = four_apps(
        make_settings,
        data_dir=tmp_path_factory.mktemp("websec"),
        port=port,
        admin=ADMIN,
        registration={"db_pool_max": 10},
        notify={"notify_reminder_poll_seconds": 3600.0},
        rate_limit=False,
        trust_proxy=True,
    )
    root = compose(list(apps.values()), max_body_bytes=1024 * 1024)
    # No cookie jar: every request carries exactly the cookies the test gives it.
    client = TestClient(TestServer(root, host="127.0.0.1", port=port), cookie_jar=DummyCookieJar())
    await client.start_server()
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        r = await client.post(f"{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
        slug = f"websec-{uuid.uuid4().hex[:8]}"
        s = Site(client, apps, root, db, admin, slug, Reg("", ""))
        await s.call("POST", f"{REG}/events", json=event_body(slug), headers=admin)
        for schema in ("checkin", "stamprally", "notify"):
            await s.known(f"SELECT true FROM {schema}.events WHERE slug = $1", slug)
            await s.known(f"SELECT true FROM {schema}.public_keys LIMIT 1")
        await s.call("POST", f"/api/stamprally/events/{slug}/rally", json=RALLY, headers=admin)
        s.reg = await s.register()
        paired = await s.call(
            "POST",
            f"{REG}/devices/pair",
            json={"pairing_code": (await s.pairing("g1"))["pairing_code"]},
        )
        s.device_token = paired["device_token"]
        await s.known(
            "SELECT true FROM stamprally.tickets WHERE id = $1 AND display_name IS NOT NULL",
            uuid.UUID(s.reg.ticket_id),
        )
        await s.known(
            "SELECT true FROM notify.recipients WHERE registration_id = $1", uuid.UUID(s.reg.id)
        )
        s.unsubscribe = await notify_service.unsubscribe_token(
            apps["notify"][RUNTIME], uuid.UUID(s.reg.id)
        )
        for _ in range(2):
            session, csrf, _, _ = await console_login(client, *ADMIN)
            s.sessions.append((session, csrf))
        yield s
    finally:
        await db.close()
        await client.close()


# == 1. CSRF ============================================================================
# Everything a console POST could change: registration's tables (the outbox by id only:
# the relay marks rows sent in the background) and notify's event settings. Nothing else
# writes these while the CSRF cases run, so "unchanged" means the POST did nothing.
STATE_TABLES = (
    "registration.events",
    "registration.categories",
    "registration.registrations",
    "registration.tickets",
    "registration.organizers",
    "registration.sessions",
    "registration.announcements",
    "registration.idempotency_keys",
    "registration.devices",
    "notify.event_settings",
    "stamprally.rallies",
    "stamprally.booths",
    "stamprally.prizes",
)
STATE_SQL = (
    "SELECT md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) FROM ("
    + " UNION ALL ".join(f"SELECT '{t}:' || x::text AS r FROM {t} x" for t in STATE_TABLES)
    + " UNION ALL SELECT 'outbox:' || id::text FROM registration.outbox) s"
)

Fingerprint = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class FormSpec:
    """A console POST route: the page whose form posts to it, the fields a person types
    (the rest is what the page gave), and the target a cell needs of its own."""

    page: str
    fill: Callable[[str], dict[str, str]] = lambda tag: {}
    fresh: str | None = None  # registration | application | device | session
    public: bool = False  # no session needed (the login form)


def new_event_fields(tag: str) -> dict[str, str]:
    return {
        "slug": f"csrf-new-{tag}",
        "title.ja": "新しい行事",
        "title.en": "New event",
        "venue.ja": "会場",
        "venue.en": "Hall",
        "starts_at": "2031-05-01T10:00",
        "ends_at": "2031-05-01T16:00",
        "cat0.code": "visitor",
        "cat0.title_ja": "来場者",
        "cat0.capacity": "10",
    }


FORMS: dict[str, FormSpec] = {
    f"POST {C}/login": FormSpec(
        f"{C}/login", lambda tag: {"email": ADMIN[0], "password": ADMIN[1]}, public=True
    ),
    f"POST {C}/logout": FormSpec(f"{C}/", fresh="session"),
    f"POST {C}/events/new": FormSpec(f"{C}/events/new", new_event_fields),
    f"POST {E}/edit": FormSpec(f"{E}/edit", lambda tag: {"title.en": f"Changed {tag}"}),
    f"POST {E}/register": FormSpec(
        f"{E}/register?category=visitor",
        lambda tag: {"name": f"Walk {tag}", "email": f"walk-{tag}@example.org"},
    ),
    f"POST {E}/devices": FormSpec(f"{E}/devices", lambda tag: {"place": f"g{tag}"}),
    f"POST {E}/devices/{{id}}/revoke": FormSpec(f"{E}/devices", fresh="device"),
    f"POST {E}/announce": FormSpec(
        f"{E}/announce",
        lambda tag: {
            "subject.ja": "お知らせ",
            "subject.en": "Notice",
            "body.ja": "本文",
            "body.en": "Text",
        },
    ),
    f"POST {RID}/approve": FormSpec(E, fresh="application"),
    f"POST {RID}/reject": FormSpec(E, fresh="application"),
    f"POST {RID}/cancel": FormSpec(f"{RID}/cancel", fresh="registration"),
    f"POST {RID}/erase": FormSpec(f"{RID}/erase", fresh="registration"),
    "POST /console/notify/{slug}/settings": FormSpec(
        "/console/notify/{slug}", lambda tag: {"rally_completed": "1"}
    ),
    "POST /console/rally/{slug}": FormSpec(
        "/console/rally/{slug}",
        lambda tag: {
            "title.ja": "スタンプラリー",
            "min_stamps": "1",
            "booths.0.code": f"b-{tag}",
            "booths.0.name.ja": "ブース",
        },
    ),
}


def console_posts(apps: Mapping[str, web.Application]) -> list[Served]:
    """Every route under /console that can change something (POST, or any other method
    that is not a read: a PUT or DELETE added later must be classified too)."""
    return [
        s
        for s in served_routes(apps)
        if s.method not in ("GET", "HEAD", "OPTIONS") and s.template.startswith(C)
    ]


@dataclass
class FormCase:
    route: str
    page: str  # the filled page path
    action: str  # the filled route path
    fill: dict[str, str]
    session: str | None
    other_session: str | None


@dataclass
class CsrfResult:
    refused: list[str] = field(default_factory=list)  # forged POSTs that were not
    working: list[str] = field(default_factory=list)  # right-token POSTs that failed
    forged: int = 0
    cases: int = 0


REFUSALS = (400, 401, 403)


def _form_on(page: Seen, action: str) -> Form | None:
    forms = [f for f in parse_page(page.body).forms if f.method == "post"]
    return next((f for f in forms if urlsplit(f.action).path == action), None)


async def check_form(
    client: TestClient, case: FormCase, fingerprint: Fingerprint, result: CsrfResult
) -> None:
    """Load the form, post it forged several ways (each must be refused and change
    nothing), then post it as given (it must work and change something)."""
    result.cases += 1
    base = {"tomoni_session": case.session} if case.session else {}
    page = await fetch(client, "GET", case.page, cookies=base)
    form = _form_on(page, case.action)
    if form is None:
        result.working.append(f"{case.route}: no form posts to {case.action} on {case.page}")
        return
    token = form.fields.get("csrf", "")
    if not token:
        result.refused.append(f"{case.route}: the form on {case.page} carries no CSRF token")
    # The token's cookie, where the page also set it (double submit).
    paired = {c.name: c.value for c in set_cookies(page.headers) if token and c.value == token}
    other_base = {"tomoni_session": case.other_session} if case.other_session else {}
    other_form = _form_on(await fetch(client, "GET", case.page, cookies=other_base), case.action)
    other = other_form.fields.get("csrf", "") if other_form else ""
    assert other and other != token, f"{case.route}: no second token to forge with"
    good = {**form.fields, **case.fill}
    without = {k: v for k, v in good.items() if k != "csrf"}
    forgeries: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("no token (the session cookie alone)", without, {**base, **paired}),
        ("an empty token", {**without, "csrf": ""}, {**base, **paired}),
        ("a random token", {**without, "csrf": new_secret(24)}, {**base, **paired}),
        ("another session's token", {**without, "csrf": other}, {**base, **paired}),
    ]
    if paired:
        forgeries += [
            ("the right token without its cookie", good, base),
            ("no token and no cookie", without, base),
        ]
    for label, data, cookies in forgeries:
        result.forged += 1
        before = await fingerprint()
        seen = await fetch(client, "POST", case.action, cookies=cookies, data=data)
        changed = await fingerprint() != before
        if seen.status not in REFUSALS or changed:
            what = " and changed the database" if changed else ""
            result.refused.append(
                f"{case.route} with {label}: answered {seen.status}{what} "
                f"(POST {case.action}, fields {sorted(data)}, cookies {sorted(cookies)})"
            )
    before = await fingerprint()
    seen = await fetch(client, "POST", case.action, cookies={**base, **paired}, data=good)
    to_login = urlsplit(seen.headers.get("Location", "")).path == f"{C}/login"
    logout = case.action == f"{C}/logout"
    ok = 200 <= seen.status < 400 and (not to_login or logout)
    if not ok or await fingerprint() == before:
        result.working.append(
            f"{case.route} with the page's own token: {seen.status} "
            f"{seen.headers.get('Location', '')} {' '.join(seen.body.split())[:200]}"
        )


async def prepare_case(s: Site, served: Served, spec: FormSpec) -> FormCase:
    tag = uuid.uuid4().hex[:8]
    params = {"slug": s.slug}
    session, _ = s.sessions[0]
    other, _ = s.sessions[1]
    if spec.fresh in ("registration", "application"):
        made = await s.register("speaker" if spec.fresh == "application" else "visitor")
        params["id"] = made.id
    elif spec.fresh == "device":
        params["id"] = (await s.pairing(f"r{tag}"))["device_id"]
    elif spec.fresh == "session":
        session, _, _, _ = await console_login(s.client, *ADMIN)
    return FormCase(
        served.key,
        fill(spec.page, params),
        fill(served.template, params),
        spec.fill(tag),
        None if spec.public else session,
        None if spec.public else other,
    )


@pytest.fixture(scope="module")
async def csrf(site: Site) -> CsrfResult:
    result = CsrfResult()

    async def fingerprint() -> Any:
        return await site.db.fetchval(STATE_SQL)

    for served in console_posts({**site.apps, "compose": site.root}):
        if served.key in FORMS:
            case = await prepare_case(site, served, FORMS[served.key])
            await check_form(site.client, case, fingerprint, result)
    return result


def test_every_console_post_route_is_classified(site: Site) -> None:
    served = console_posts({**site.apps, "compose": site.root})
    missing = [f"{s.key} (served by {s.services})" for s in served if s.key not in FORMS]
    stale = sorted(set(FORMS) - {s.key for s in served})
    assert not missing, "console POST routes with no row in FORMS:\n" + "\n".join(missing)
    assert not stale, "rows in FORMS that nothing serves:\n" + "\n".join(stale)


def test_console_posts_without_the_right_csrf_token_are_refused_and_change_nothing(
    csrf: CsrfResult,
) -> None:
    assert csrf.cases == len(FORMS)
    assert csrf.forged >= 4 * len(FORMS)
    assert not csrf.refused, f"{len(csrf.refused)} of {csrf.forged} forged POSTs:\n" + "\n".join(
        csrf.refused
    )


def test_console_posts_with_the_pages_own_token_work(csrf: CsrfResult) -> None:
    assert not csrf.working, "\n".join(csrf.working)


async def test_control_the_csrf_check_catches_an_unprotected_form() -> None:
    """The same loading, forging and judging against a tiny console: one form checks the
    session's token, one forgot to, one route is in no table."""
    tokens = {"sess-a": "tok-a", "sess-b": "tok-b"}
    state = {"changes": 0}

    async def page(request: web.Request) -> web.Response:
        token = tokens.get(request.cookies.get("tomoni_session", ""), "")
        forms = "".join(
            f'<form method="post" action="/console/{name}">'
            f'<input type="hidden" name="csrf" value="{token}">'
            '<input name="what" value="x"><button>Go</button></form>'
            for name in ("guarded", "open")
        )
        return web.Response(text=f"<html><body>{forms}</body></html>", content_type="text/html")

    async def guarded(request: web.Request) -> web.Response:
        form = await request.post()
        expected = tokens.get(request.cookies.get("tomoni_session", ""))
        if not expected or form.get("csrf") != expected:
            raise web.HTTPForbidden()
        state["changes"] += 1
        raise web.HTTPSeeOther("/console/page")

    async def unprotected(request: web.Request) -> web.Response:
        await request.post()
        state["changes"] += 1  # the deliberate hole: no token check
        raise web.HTTPSeeOther("/console/page")

    app = web.Application()
    app.router.add_get("/console/page", page)
    app.router.add_post("/console/guarded", guarded)
    app.router.add_post("/console/open", unprotected)
    app.router.add_post("/console/forgotten", unprotected)
    table = {"POST /console/guarded", "POST /console/open"}

    async def fingerprint() -> Any:
        return state["changes"]

    result = CsrfResult()
    async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
        for name in ("guarded", "open"):
            case = FormCase(
                f"POST /console/{name}",
                "/console/page",
                f"/console/{name}",
                {"what": "y"},
                "sess-a",
                "sess-b",
            )
            await check_form(client, case, fingerprint, result)
    unclassified = [s.key for s in console_posts({"demo": app}) if s.key not in table]
    assert unclassified == ["POST /console/forgotten"]
    assert result.working == []
    assert [r.split(": answered")[0] for r in result.refused] == [
        "POST /console/open with no token (the session cookie alone)",
        "POST /console/open with an empty token",
        "POST /console/open with a random token",
        "POST /console/open with another session's token",
    ], result.refused
    assert all("changed the database" in r for r in result.refused)


# == 2. Security headers and inline scripts ==============================================
GET_METHODS = ("GET", "HEAD")
DEVICE_ONLY = ("/scan/event.json", "/api/checkin/device", "/api/checkin/revoked")
BOOTH_ONLY = ("/api/stamprally/booth-code",)


def sweep_request(s: Site, served: Served) -> tuple[str, dict[str, str], dict[str, str]]:
    """A served GET route filled with the site's real ids, asked with the credentials
    its holder would send."""
    ticket_route = "/tickets/{id}" in served.template
    params = {
        "slug": s.slug,
        "id": s.reg.ticket_id if ticket_route else s.reg.id,
        "secret": s.reg.secret,
        "ticket_id": s.reg.ticket_id,
        "category": "visitor",
        "lang": "ja",
        "fmt": "png",
        "filename": served.sample_file,
    }
    path = fill(served.template, params)
    query = {
        "/console/language": "lang=en&next=/console/",
        "/notify/unsubscribe": f"t={s.unsubscribe}",
        "/api/notify/notifications": f"registration={s.reg.id}",
    }.get(served.template, "")
    if ticket_route:
        query = f"k={s.reg.image_key}"
    headers: dict[str, str] = {"X-Registration-Secret": s.reg.secret}
    if served.template in DEVICE_ONLY:
        headers["Authorization"] = f"Bearer {s.device_token}"
    elif served.template not in BOOTH_ONLY:
        headers.update(s.admin)
    cookies = {"tomoni_session": s.sessions[0][0]} if path.startswith(C) else {}
    return f"{path}?{query}" if query else path, headers, cookies


@dataclass
class Kind:
    """A kind of response, and the status that shows the request reached it."""

    label: str
    method: str
    path: str
    status: int | tuple[int, ...]
    session: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    kw: dict[str, Any] = field(default_factory=dict)


def kinds(s: Site) -> list[Kind]:
    r, nobody = s.reg, str(uuid7())
    rally = f"/rally/cards/{r.ticket_id}/{r.secret}"
    mine = f"/events/r/{r.id}/{r.secret}"
    big = {
        "data": io.BytesIO(b"x" * (2 * 1024 * 1024)),
        "headers": {"Content-Type": "application/json"},
    }
    return [
        Kind("API JSON", "GET", f"{REG}/events", 200),
        Kind(
            "API JSON (organizer)",
            "GET",
            f"/api/checkin/events/{s.slug}/counts",
            200,
            headers=s.admin,
        ),
        Kind("OpenAPI document", "GET", "/api/notify/openapi.json", 200),
        Kind("API 404 problem", "GET", f"{REG}/registrations/{nobody}", 404),
        Kind("API 401 problem", "GET", f"{REG}/events/{s.slug}/registrations", 401),
        Kind("API 405 problem", "DELETE", f"{REG}/events", 405),
        Kind(
            "API 422 problem", "POST", f"{REG}/events/{s.slug}/registrations", 422, kw={"json": {}}
        ),
        Kind(
            "API 400 problem",
            "POST",
            f"{REG}/auth/login",
            400,
            kw={"data": b"{nope", "headers": {"Content-Type": "application/json"}},
        ),
        Kind("API 413 problem", "POST", f"{REG}/events/{s.slug}/registrations", 413, kw=big),
        Kind("ticket QR SVG", "GET", f"{REG}/tickets/{r.ticket_id}/qr.svg?k={r.image_key}", 200),
        Kind("attendee list", "GET", "/events/", 200),
        Kind("attendee event page", "GET", f"/events/{s.slug}", 200),
        Kind("attendee form redirect", "GET", f"/events/{s.slug}/register/visitor", 303),
        Kind("attendee form", "GET", f"/events/{s.slug}/register/visitor?form={uuid.uuid4()}", 200),
        Kind(
            "attendee form errors",
            "POST",
            f"/events/{s.slug}/register/visitor?form={uuid.uuid4()}",
            422,
            kw={"data": {"name": ""}},
        ),
        Kind("attendee ticket page", "GET", mine, 200),
        Kind("attendee cancel page", "GET", f"{mine}/cancel", 200),
        Kind("attendee erase page", "GET", f"{mine}/erase", 200),
        Kind("attendee 404 page", "GET", "/events/no-such-event-here", 404),
        Kind("attendee wrong secret page", "GET", f"/events/r/{r.id}/{new_secret()}", 404),
        Kind("console login page", "GET", f"{C}/login", 200),
        Kind("console login wall", "GET", f"{C}/", 303),
        Kind("console dashboard", "GET", f"{C}/", 200, session=True),
        Kind("console event", "GET", f"/console/events/{s.slug}", 200, session=True),
        Kind("console live board", "GET", f"/console/events/{s.slug}/live", 200, session=True),
        Kind(
            "console live stream", "GET", f"/console/events/{s.slug}/live/stream", 200, session=True
        ),
        Kind("console new event", "GET", f"{C}/events/new", 200, session=True),
        Kind("console ticket", "GET", f"{C}/registrations/{r.id}/ticket", 200, session=True),
        Kind("console 404 page", "GET", f"{C}/events/no-such-event-here", 404, session=True),
        Kind(
            "console CSRF refusal",
            "POST",
            f"{C}/events/new",
            403,
            session=True,
            kw={"data": {"slug": "x"}},
        ),
        Kind(
            "console 422 form",
            "POST",
            f"{C}/events/new",
            422,
            session=True,
            kw={"data": {"csrf": s.sessions[0][1]}},
        ),
        Kind("notify console page", "GET", f"/console/notify/{s.slug}", 200, session=True),
        Kind(
            "notify console 404",
            "GET",
            "/console/notify/no-such-event-here",
            (403, 404),
            session=True,
        ),
        Kind("notify unsubscribe page", "GET", f"/notify/unsubscribe?t={s.unsubscribe}", 200),
        Kind("notify unsubscribe 404", "GET", "/notify/unsubscribe?t=nothing", 404),
        Kind("scanner redirect", "GET", "/scan", (301, 302, 303, 307, 308)),
        Kind("scanner app", "GET", "/scan/", 200),
        Kind("scanner pairing page", "GET", "/scan/pair?code=ABCDEFGH", 200),
        Kind("scanner service worker", "GET", "/scan/sw.js", 200),
        Kind("scanner strings", "GET", "/scan/i18n/ja.json", 200),
        Kind("stamp card", "GET", rally, 200),
        Kind("stamp card stream", "GET", f"{rally}/events", 200),
        Kind("stamp card 404", "GET", f"/rally/cards/{r.ticket_id}/{new_secret()}", 404),
        Kind("static script", "GET", "/console/static/console.js", 200),
        Kind("static stylesheet", "GET", "/events/static/attendee.css", 200),
        Kind("static script (scanner)", "GET", "/scan/static/common.js", 200),
        Kind("static 404", "GET", "/events/static/no-such-file.js", 404),
        Kind("root 404", "GET", "/no-such-place", 404),
        Kind("root 405", "POST", "/healthz", 405),
        Kind("health", "GET", "/healthz", 200),
        Kind("readiness", "GET", "/readyz", 200),
    ]


@dataclass
class Sweep:
    seen: list[Seen]
    statuses: list[str]  # kinds that did not answer as expected (the probe missed)
    routes: int


@pytest.fixture(scope="module")
async def sweep(site: Site, csrf: CsrfResult) -> Sweep:
    """Every served GET/HEAD route, every kind above, and two 429s (the login limiter
    swapped for one that refuses at once, then put back)."""
    seen: list[Seen] = []
    served = [
        s for s in served_routes({**site.apps, "compose": site.root}) if s.method in GET_METHODS
    ]
    for s in served:
        path, headers, cookies = sweep_request(site, s)
        seen.append(
            await fetch(site.client, s.method, path, label=s.key, headers=headers, cookies=cookies)
        )
    wrong: list[str] = []
    for k in kinds(site):
        cookies = {"tomoni_session": site.sessions[0][0]} if k.session else {}
        got = await fetch(
            site.client,
            k.method,
            k.path,
            label=k.label,
            headers={**k.headers, **k.kw.pop("headers", {})},
            cookies=cookies,
            **k.kw,
        )
        seen.append(got)
        allowed = k.status if isinstance(k.status, tuple) else (k.status,)
        if got.status not in allowed:
            wrong.append(
                f"{k.label}: {k.method} {k.path[:90]} answered {got.status}, not {k.status}"
            )
    limits = site.apps["registration"][LIMITS]
    saved = limits["login"]
    limits["login"] = RateLimiter(rate_per_minute=1, burst=0)
    try:
        api = await fetch(
            site.client,
            "POST",
            f"{REG}/auth/login",
            label="API 429",
            json={"email": "a@b.c", "password": "x"},
        )
        page = await fetch(site.client, "GET", f"{C}/login")
        token = next(c.value for c in set_cookies(page.headers) if c.name == "tomoni_login_csrf")
        console = await fetch(
            site.client,
            "POST",
            f"{C}/login",
            label="console 429",
            cookies={"tomoni_login_csrf": token},
            data={"email": "a@b.c", "password": "x", "csrf": token},
        )
    finally:
        limits["login"] = saved
    for got in (api, console):
        seen.append(got)
        if got.status != 429:
            wrong.append(f"{got.label}: answered {got.status}")
    return Sweep(seen, wrong, len(served))


def test_every_kind_of_response_was_reached(sweep: Sweep) -> None:
    assert not sweep.statuses, "\n".join(sweep.statuses)
    html = [s for s in sweep.seen if "text/html" in s.ctype and s.status == 200]
    assert len(html) >= 25, [s.label for s in html]
    assert sweep.routes >= 50


def test_every_response_has_the_security_headers(sweep: Sweep) -> None:
    missing = [
        f"{s.label} → {s.status} {s.ctype}: {p}"
        for s in sweep.seen
        for p in header_problems(s.headers)
    ]
    assert not missing, f"{len(missing)} problems in {len(sweep.seen)} responses:\n" + "\n".join(
        missing
    )


def test_no_page_has_an_inline_script(sweep: Sweep) -> None:
    pages = [s for s in sweep.seen if "html" in s.ctype or "svg" in s.ctype]
    found = [f"{s.label} ({s.status}): {p}" for s in pages for p in body_problems(s.ctype, s.body)]
    assert not found, "\n".join(found)
    # Each page that has scripts loads them from files on this origin.
    scripts = [s for s in pages if "<script" in s.body]
    assert scripts, "no page with a script was parsed"


def test_no_server_error_in_the_sweep(sweep: Sweep) -> None:
    errors = [f"{s.label} → {s.status} {s.body[:200]}" for s in sweep.seen if s.status >= 500]
    assert not errors, "\n".join(errors)


async def test_control_the_header_and_page_checks_report_what_is_missing() -> None:
    """A plain aiohttp application (no shared middlewares) serving a page with every kind
    of inline script: each missing header and each inline script is reported, through
    the same request and judging code."""

    async def bare(request: web.Request) -> web.Response:
        html = (
            "<html><body><script>alert(1)</script><a href='javascript:go()'>x</a>"
            "<button onclick='go()'>y</button><script src='/ok.js'></script></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    async def weak(request: web.Request) -> web.Response:
        return web.Response(
            text="{}",
            content_type="application/json",
            headers={
                "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "unsafe-url",
                "X-Frame-Options": "SAMEORIGIN",
            },
        )

    app = web.Application()
    app.router.add_get("/bare", bare)
    app.router.add_get("/weak", weak)
    async with TestClient(TestServer(app)) as client:
        plain = await fetch(client, "GET", "/bare")
        loose = await fetch(client, "GET", "/weak")
    assert header_problems(plain.headers) == [
        "no Content-Security-Policy",
        "framing allowed (no frame-ancestors 'none', no X-Frame-Options DENY)",
        "no X-Content-Type-Options: nosniff",
        "no Referrer-Policy",
    ]
    assert body_problems(plain.ctype, plain.body) == [
        "<a href='javascript:go()'> (a javascript: URL)",
        "<button onclick=…> (an inline event handler)",
        "<script> with a body (an inline script)",
        "<script> without src (an inline script)",
    ]
    loose_problems = header_problems(loose.headers)
    assert [p.split(" (")[0] for p in loose_problems] == [
        "CSP lets inline scripts run",
        "framing allowed",
        "Referrer-Policy 'unsafe-url' sends the path to other sites",
    ], loose_problems


# == 3. Cookies ==========================================================================
@dataclass
class CookieCase:
    label: str
    cookies: list[SetCookie]
    expected: set[str]


@pytest.fixture(scope="module")
async def cookie_cases(site: Site, sweep: Sweep) -> list[CookieCase]:
    """Every cookie Tomoni sets, each from the request that sets it, as the browser sends
    it through the TLS proxy; plus every Set-Cookie met in the sweep."""
    cases = []
    _, _, login_page, login = await console_login(site.client, *ADMIN)
    cases.append(CookieCase("GET /console/login", login_page, {"tomoni_login_csrf"}))
    cases.append(CookieCase("POST /console/login", login, {"tomoni_session"}))
    notify = await fetch(
        site.client,
        "GET",
        f"/console/notify/{site.slug}",
        cookies={"tomoni_session": site.sessions[0][0]},
    )
    cases.append(
        CookieCase(
            "GET /console/notify/{slug}", set_cookies(notify.headers), {"tomoni_notify_csrf"}
        )
    )
    for label, path in (
        ("GET /console/language?lang=en", f"{C}/language?lang=en&next=/console/"),
        ("GET /events/?lang=en", "/events/?lang=en"),
        (
            "GET /rally/cards/…?lang=en",
            f"/rally/cards/{site.reg.ticket_id}/{site.reg.secret}?lang=en",
        ),
    ):
        got = await fetch(site.client, "GET", path)
        cases.append(CookieCase(label, set_cookies(got.headers), {"tomoni_lang"}))
    for s in sweep.seen:
        if s.headers.getall("Set-Cookie", []):
            cases.append(CookieCase(f"{s.label} (sweep)", set_cookies(s.headers), set()))
    return cases


def test_every_cookie_is_set_where_expected(cookie_cases: list[CookieCase]) -> None:
    for case in cookie_cases:
        names = {c.name for c in case.cookies if not c.deletes}
        assert case.expected <= names, (case.label, names)


def test_cookies_are_httponly_samesite_and_secure_behind_the_tls_proxy(
    cookie_cases: list[CookieCase],
) -> None:
    problems = sorted(
        {
            f"{case.label}: {p}"
            for case in cookie_cases
            for p in cookie_problems(case.cookies, over_tls=True)
        }
    )
    assert not problems, "\n".join(problems)


def test_the_session_cookie_is_strict_and_limited_to_the_console(
    cookie_cases: list[CookieCase],
) -> None:
    session = next(
        c
        for case in cookie_cases
        for c in case.cookies
        if c.name == "tomoni_session" and not c.deletes
    )
    assert session.attrs.get("samesite", "").lower() == "strict"
    assert session.attrs.get("path") == C


def test_control_the_cookie_check_reports_a_cookie_without_flags() -> None:
    headers = CIMultiDict(
        [
            ("Set-Cookie", "tomoni_session=abc; Path=/console"),
            ("Set-Cookie", "tomoni_lang=en; Path=/; SameSite=Lax"),
            ("Set-Cookie", "tomoni_session=; Max-Age=0; Path=/console"),
        ]
    )
    assert cookie_problems(set_cookies(headers), over_tls=True) == [
        "tomoni_session: not HttpOnly",
        "tomoni_session: no SameSite=Strict|Lax",
        "tomoni_session: not Secure although the browser came over https",
        "tomoni_lang: not Secure although the browser came over https",
    ]
    assert cookie_problems(set_cookies(headers), over_tls=False) == [
        "tomoni_session: not HttpOnly",
        "tomoni_session: no SameSite=Strict|Lax",
    ]


# == 4. No enumeration ====================================================================
def bits_of(alphabet_size: int, length: int) -> float:
    return length * math.log2(alphabet_size)


B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


async def test_identifiers_are_random_and_capabilities_unguessable(site: Site) -> None:
    regs = [await site.register() for _ in range(3)]
    pairings = [await site.pairing(f"e{i}") for i in range(3)]
    for r in regs:
        for ident in (r.id, r.ticket_id):
            assert uuid.UUID(ident).version in (4, 7), ident
        # The registration's secret (the capability of its pages, API and stamp card):
        # URL-safe base64 of at least 128 random bits.
        assert B64URL.match(r.secret) and bits_of(64, len(r.secret)) >= 128, r.secret
        # The ticket image's key, in an <img> URL.
        assert B64URL.match(r.image_key) and bits_of(64, len(r.image_key)) >= 96, r.image_key
    assert len({r.secret for r in regs}) == len({r.id for r in regs}) == 3
    alphabet = registration_devices.CODE_ALPHABET
    for p in pairings:
        assert uuid.UUID(p["device_id"]).version in (4, 7)
        code = p["pairing_code"]
        assert set(code) <= set(alphabet) and len(code) == registration_devices.CODE_LENGTH
    assert len({p["pairing_code"] for p in pairings}) == 3
    pair = site.apps["registration"][LIMITS]["pair"]
    problem = short_code_problem(
        len(alphabet), registration_devices.CODE_LENGTH, pair, registration_devices.PAIRING_HOURS
    )
    assert problem is None, problem


def short_code_problem(
    alphabet: int, length: int, limiter: RateLimiter, lifetime_hours: float
) -> str | None:
    """A pairing code is short (it is typed on a phone), so it is guarded by the pairing
    limit: one client address trying codes for a code's whole life at the limit's pace
    must have under one chance in a million of hitting one live code."""
    tries = limiter.burst + limiter.rate_per_minute * 60 * lifetime_hours
    chance = tries / alphabet**length
    if chance >= 1e-6:
        return f"{bits_of(alphabet, length):.0f}-bit code: one client hits it with p={chance:.2g}"
    return None


def test_control_the_code_check_reports_a_guessable_code() -> None:
    """Six digits under the same limit would be found by one client within its life."""
    limiter = RateLimiter(rate_per_minute=60, burst=40)
    assert short_code_problem(32, 8, limiter, 12) is None
    problem = short_code_problem(10, 6, limiter, 12)
    assert problem is not None and problem.startswith("20-bit code"), problem


def test_capabilities_come_from_the_system_random_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """The codes and secrets are drawn with :mod:`secrets` (the OS's CSPRNG): replaced by
    a constant, the generators give constants."""
    import secrets as secrets_module

    monkeypatch.setattr(secrets_module, "choice", lambda seq: seq[0])
    monkeypatch.setattr(secrets_module, "token_urlsafe", lambda n=None: "CONSTANT")
    assert registration_devices.new_code() == "A" * registration_devices.CODE_LENGTH
    assert new_secret() == "CONSTANT"


@dataclass(frozen=True)
class Answer:
    status: int
    ctype: str
    body: str
    cookies: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.status} {self.ctype} {' '.join(self.body.split())[:240]}"


def answer_of(seen: Seen, hide: Mapping[str, str]) -> Answer:
    """A response with what the request itself put in it (the id and secret of the URL,
    the email typed, a fresh CSRF token) replaced by placeholders: what is left is what
    the server chose to say."""
    body = seen.body
    for text, placeholder in sorted(hide.items(), key=lambda kv: -len(kv[0])):
        if text:
            body = body.replace(text, placeholder)
    body = re.sub(r'"correlation_id":\s*"[^"]*"', '"correlation_id": "…"', body)
    cookies = tuple(sorted(c.name for c in set_cookies(seen.headers)))
    return Answer(seen.status, seen.ctype.split(";")[0], body, cookies)


def differences(pairs: Sequence[tuple[str, Answer, Answer]]) -> list[str]:
    return [f"{label}:\n    existing: {a}\n    unknown:  {b}" for label, a, b in pairs if a != b]


@pytest.fixture(scope="module")
async def secret_probes(site: Site) -> list[tuple[str, Answer, Answer]]:
    """Each route of one registration asked twice with a wrong secret: for a registration
    that exists, and for an id that does not. POSTs must also change nothing."""
    target = await site.register()
    other = await site.register()
    wrong = new_secret()
    nobody, no_ticket = str(uuid7()), str(uuid7())
    h = {"Correlation-Id": FIXED_CID}
    fingerprint = "SELECT md5(r::text) FROM registration.registrations r WHERE id = $1"
    before = await site.db.fetchval(fingerprint, uuid.UUID(target.id))
    probes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{REG}/registrations/{{id}}", {"headers": {**h, "X-Registration-Secret": wrong}}),
        (
            "POST",
            f"{REG}/registrations/{{id}}/cancel",
            {"headers": {**h, "X-Registration-Secret": wrong}},
        ),
        (
            "POST",
            f"{REG}/registrations/{{id}}/erase",
            {"headers": {**h, "X-Registration-Secret": wrong}},
        ),
        (
            "POST",
            f"{REG}/registrations/{{id}}/change",
            {"headers": {**h, "X-Registration-Secret": wrong}, "json": {"language": "vi"}},
        ),
        (
            "GET",
            f"{REG}/registrations/{{id}}",
            {"headers": {**h, "X-Registration-Secret": other.secret}},
        ),
        ("GET", "/events/r/{id}/{secret}", {}),
        ("GET", "/events/r/{id}/{secret}/ticket.png", {}),
        ("GET", "/events/r/{id}/{secret}/change", {}),
        ("GET", "/events/r/{id}/{secret}/cancel", {}),
        ("GET", "/events/r/{id}/{secret}/erase", {}),
        ("POST", "/events/r/{id}/{secret}/change", {"data": {"language": "vi"}}),
        ("POST", "/events/r/{id}/{secret}/cancel", {"data": {}}),
        ("POST", "/events/r/{id}/{secret}/erase", {"data": {}}),
        ("GET", f"{REG}/tickets/{{ticket}}/qr.png?k={wrong}", {"headers": h}),
        ("GET", f"{REG}/tickets/{{ticket}}/qr.svg?k={other.image_key}", {"headers": h}),
        (
            "GET",
            "/api/stamprally/cards/{ticket}",
            {"headers": {**h, "X-Registration-Secret": wrong}},
        ),
        (
            "POST",
            "/api/stamprally/cards/{ticket}/stamps",
            {"headers": {**h, "X-Registration-Secret": wrong}, "json": {"booth_code": "123456"}},
        ),
        ("GET", "/rally/cards/{ticket}/{secret}", {}),
        ("GET", "/rally/cards/{ticket}/{secret}/events", {}),
        ("GET", "/notify/unsubscribe?t={hex}.{mac}", {}),
        ("POST", "/notify/unsubscribe", {"data": {"t": "{hex}.{mac}"}}),
    ]
    forged_mac = site.unsubscribe.split(".")[1][::-1]
    out = []
    for method, template, kw in probes:
        answers = []
        for reg_id, ticket_id in ((target.id, target.ticket_id), (nobody, no_ticket)):
            values = {
                "id": reg_id,
                "ticket": ticket_id,
                "secret": wrong,
                "hex": uuid.UUID(reg_id).hex,
                "mac": forged_mac,
            }
            path = template.format(**values)
            sent = dict(kw)
            if sent.get("data"):
                sent["data"] = {k: v.format(**values) for k, v in sent["data"].items()}
            seen = await fetch(site.client, method, path, **sent)
            hide = {reg_id: "{id}", ticket_id: "{ticket}", uuid.UUID(reg_id).hex: "{hex}"}
            answers.append(answer_of(seen, hide))
        out.append((f"{method} {template}", answers[0], answers[1]))
    assert await site.db.fetchval(fingerprint, uuid.UUID(target.id)) == before, (
        "a request with a wrong secret changed the registration"
    )
    return out


def test_wrong_secret_and_unknown_registration_answer_identically(
    secret_probes: list[tuple[str, Answer, Answer]],
) -> None:
    assert len(secret_probes) == 21
    found = differences(secret_probes)
    assert not found, "\n".join(found)
    # ...and the answer is a refusal, not someone's data.
    assert all(a.status in (303, 401, 404) for _, a, _ in secret_probes), [
        (label, a.status) for label, a, _ in secret_probes
    ]


async def test_unknown_pairing_codes_are_indistinguishable_and_dead_ones_name_nothing(
    site: Site,
) -> None:
    """Unknown codes all get the same 404. API.md promises 410 for a used or expired code
    (the scanner tells the volunteer to ask for a new one): that answer must not name the
    event, place or device of the code."""
    h = {"Correlation-Id": FIXED_CID}

    async def pair(code: str) -> Seen:
        return await fetch(
            site.client, "POST", f"{REG}/devices/pair", headers=h, json={"pairing_code": code}
        )

    unknown = [await pair(registration_devices.new_code()) for _ in range(3)]
    unknown_answers = {answer_of(s, {}) for s in unknown}
    assert len(unknown_answers) == 1 and unknown[0].status == 404, unknown_answers
    used = await site.pairing("used-gate")
    assert (await pair(used["pairing_code"])).status == 200
    expired = await site.pairing("old-gate")
    await site.db.execute(
        "UPDATE registration.devices SET pairing_expires_at = now() - interval '1 minute'"
        " WHERE id = $1",
        uuid.UUID(expired["device_id"]),
    )
    for code, place, device in (
        (used["pairing_code"], "used-gate", used["device_id"]),
        (expired["pairing_code"], "old-gate", expired["device_id"]),
    ):
        dead = await pair(code)
        assert dead.status == 410, dead.body
        for leak in (site.slug, place, device, "device_token"):
            assert leak not in dead.body, (leak, dead.body)


async def test_unknown_email_and_wrong_password_get_the_same_answer(site: Site) -> None:
    """API and console; the code does a dummy argon2 verification for an unknown email
    (timing is not asserted here)."""
    h = {"Correlation-Id": FIXED_CID}
    unknown_email = f"nobody-{uuid.uuid4().hex[:8]}@tomoni.test"
    api = []
    for email in (ADMIN[0], unknown_email):
        seen = await fetch(
            site.client,
            "POST",
            f"{REG}/auth/login",
            headers=h,
            json={"email": email, "password": "wrong password"},
        )
        api.append(answer_of(seen, {}))
    console = []
    for email in (ADMIN[0], unknown_email):
        page = await fetch(site.client, "GET", f"{C}/login")
        token = next(c.value for c in set_cookies(page.headers) if c.name == "tomoni_login_csrf")
        seen = await fetch(
            site.client,
            "POST",
            f"{C}/login",
            headers=h,
            cookies={"tomoni_login_csrf": token},
            data={"email": email, "password": "wrong password", "csrf": token},
        )
        fresh = [c.value for c in set_cookies(seen.headers) if c.name == "tomoni_login_csrf"]
        console.append(answer_of(seen, {email: "{email}", **{t: "{csrf}" for t in fresh}}))
    found = differences([("API login", *api), ("console login", *console)])
    assert not found, "\n".join(found)
    assert api[0].status == 401 and console[0].status == 401, (api[0], console[0])


async def test_control_the_comparison_reports_an_answer_that_tells_them_apart() -> None:
    """A tiny API that says "wrong secret" for a registration that exists and "not found"
    otherwise: the same probing and comparing reports it."""
    known = str(uuid7())

    async def one(request: web.Request) -> web.Response:
        if request.match_info["id"] == known:
            return web.json_response({"error": "wrong secret"}, status=404)
        return web.json_response({"error": "not found"}, status=404)

    app = web.Application()
    app.router.add_get("/api/demo/registrations/{id}", one)
    async with TestClient(TestServer(app)) as client:
        pair = []
        for reg_id in (known, str(uuid7())):
            seen = await fetch(client, "GET", f"/api/demo/registrations/{reg_id}")
            pair.append(answer_of(seen, {reg_id: "{id}"}))
    found = differences([("GET /api/demo/registrations/{id}", pair[0], pair[1])])
    assert len(found) == 1 and "wrong secret" in found[0] and "not found" in found[0], found
