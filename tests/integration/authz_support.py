"""The machinery of the authorization matrix (``test_authz_matrix.py``): who asks (the
principals), what a route promises each of them (the policies), how a response is read
(allowed, denied, or a server error), and which cells broke their promise.

It knows nothing of Tomoni's data, so the control test runs this very code against a
tiny application with a deliberately unprotected route: the checker can fail.

Reading a response:

* 5xx (or no response at all) is an error, whoever asked.
* 401, 403 and 404 are denials. So is a redirect to ``/console/login`` (the console's
  login wall), and a scan answered ``200 {result: rejected}`` with reason
  ``wrong_event`` or ``device_revoked`` (the API answers every scan with 200; those two
  reasons are the refusal of the device, not of the ticket).
* Anything else is the principal being let in: 2xx, other redirects, and the 4xx of a
  request that got past the authorization check (400, 409, 410, 413, 422, 429).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import ClientTimeout, web
from aiohttp.test_utils import TestClient
from aiohttp.web_urldispatcher import StaticResource


# -- principals -------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    name: str
    kind: str  # anonymous | attendee | device | organizer
    event: str | None = None  # "X" or "Y": a device's event, a limited organizer's
    role: str | None = None  # a device's role; "admin" for the administrator
    revoked: bool = False
    own: bool = False  # an attendee acting on their own registration


ANONYMOUS = Principal("anonymous", "anonymous")
OWNER = Principal("attendee_own_secret", "attendee", own=True)
OTHER = Principal("attendee_other_id", "attendee")  # own secret, someone else's id
GATE_X = Principal("gate_x", "device", "X", "gate")
BOOTH_X = Principal("booth_x", "device", "X", "booth")
DESK_X = Principal("prize_desk_x", "device", "X", "prize_desk")
GATE_Y = Principal("gate_y", "device", "Y", "gate")
BOOTH_Y = Principal("booth_y", "device", "Y", "booth")
REVOKED_GATE = Principal("revoked_gate_x", "device", "X", "gate", revoked=True)
REVOKED_BOOTH = Principal("revoked_booth_x", "device", "X", "booth", revoked=True)
ORGANIZER_X = Principal("organizer_x", "organizer", "X")
ORGANIZER_Y = Principal("organizer_y_on_x", "organizer", "Y")
ADMIN = Principal("admin", "organizer", role="admin")
PRINCIPALS = (
    ANONYMOUS,
    OWNER,
    OTHER,
    GATE_X,
    BOOTH_X,
    DESK_X,
    GATE_Y,
    BOOTH_Y,
    REVOKED_GATE,
    REVOKED_BOOTH,
    ORGANIZER_X,
    ORGANIZER_Y,
    ADMIN,
)


def manages_x(p: Principal) -> bool:
    return p.kind == "organizer" and (p.role == "admin" or p.event == "X")


# -- what a cell expects ----------------------------------------------------------------
LOGIN = "login-wall"  # a redirect to /console/login
REFUSED = "scan-refused"  # 200 {result: rejected, reason: wrong_event | device_revoked}
REFUSALS = ("wrong_event", "device_revoked")


@dataclass(frozen=True)
class Expect:
    allowed: bool
    denials: frozenset[int | str] = frozenset()  # how a denial may look

    def __str__(self) -> str:
        if self.allowed:
            return "allowed"
        return "denied " + "|".join(sorted(str(d) for d in self.denials))


ALLOW = Expect(True)


def deny(*how: int | str) -> Expect:
    return Expect(False, frozenset(how))


Policy = Callable[[Principal], Expect]


def public(p: Principal) -> Expect:
    """Anyone; a capability, if any, is in the request itself (a pairing code, a login)."""
    return ALLOW


# How a route refuses someone who is no organizer at all: the API with 401 (a device's
# token is a bearer token of the wrong kind: 401 or 403), the console pages with a
# redirect to the login page, the console's live stream (an EventSource) with 401.
WALLS: dict[str, dict[str, Expect]] = {
    "api": {"anonymous": deny(401), "attendee": deny(401), "device": deny(401, 403)},
    "console": {k: deny(LOGIN) for k in ("anonymous", "attendee", "device")},
    "stream": {k: deny(401) for k in ("anonymous", "attendee", "device")},
}


def organizers(*, scoped: bool = True, admin_only: bool = False, wall: str = "api") -> Policy:
    """Organizers: of event X when ``scoped`` (an organizer of Y gets 403), any
    organizer otherwise (they see only their own events), or the admin alone."""

    def expect(p: Principal) -> Expect:
        if p.kind != "organizer":
            return WALLS[wall][p.kind]
        if p.role == "admin":
            return ALLOW
        if admin_only or (scoped and p.event != "X"):
            return deny(403)
        return ALLOW

    return expect


def owner(*, or_organizers_of_x: bool = False) -> Policy:
    """The holder of the registration's secret (a header, or a capability link): anyone
    else gets 404, "never someone else's data". ``or_organizers_of_x``: the route reads
    a bearer token as an organizer's (cancel, erase), so a device's token is a 401."""

    def expect(p: Principal) -> Expect:
        if p.kind == "attendee" and p.own:
            return ALLOW
        if or_organizers_of_x and p.kind == "organizer":
            return ALLOW if manages_x(p) else deny(403)
        if or_organizers_of_x and p.kind == "device":
            return deny(401)
        return deny(404)

    return expect


def devices(*roles: str, x_ticket: bool) -> Policy:
    """Paired devices of ``roles``. ``x_ticket``: the device acts on a ticket of event X
    (a scan), so a device of Y or a revoked one gets the scan refused; otherwise it
    reads about its own event, which a revoked device may no longer do."""

    def expect(p: Principal) -> Expect:
        if p.kind in ("anonymous", "attendee"):
            return deny(401)
        if p.kind == "organizer":
            return deny(401, 403)
        if p.role not in roles:
            return deny(403)
        if x_ticket and (p.revoked or p.event != "X"):
            return deny(REFUSED)
        if p.revoked:
            return deny(401, 403)
        return ALLOW

    return expect


def registrants_or_organizers_of_x(p: Principal) -> Expect:
    """Anyone registers; a bearer token makes it an organizer's walk-in registration,
    which only an organizer of the event may make."""
    if p.kind == "device":
        return deny(401)
    if p.kind == "organizer" and not manages_x(p):
        return deny(403)
    return ALLOW


# -- the table's rows -------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """One route's row: its policy and how to fill a request (the builders get the
    test's cell; what they mean is the test's business)."""

    policy: Policy
    id: Callable[[Any], str] | None = None  # the {id} path parameter
    query: Callable[[Any], dict[str, str]] | None = None
    json: Callable[[Any], Any] | None = None
    form: Callable[[Any], dict[str, str]] | None = None
    cookies: Callable[[Any], dict[str, str]] | None = None
    fresh: str | None = None  # a target made for this cell alone (the route changes it)
    login_is_success: bool = False  # logout: a redirect to exactly /console/login
    private_to_x: bool = False  # a list: event X must not show to who does not manage it


@dataclass(frozen=True)
class Served:
    """A (method, path) the running application answers."""

    services: str
    method: str
    template: str  # aiohttp's canonical path; a static folder as "<prefix>/{filename}"
    sample_file: str = ""

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def served_routes(apps: Mapping[str, web.Application]) -> list[Served]:
    """Every route of every application, as its router holds it (the route tables, the
    health and OpenAPI routes the runtime adds, the static folders)."""
    found: dict[str, Served] = {}
    for name, app in apps.items():
        for route in app.router.routes():
            resource = route.resource
            if resource is None:
                continue
            sample = ""
            template = resource.canonical
            if isinstance(resource, StaticResource):
                folder = Path(resource.get_info()["directory"])
                sample = sorted(p.name for p in folder.iterdir() if p.is_file())[0]
                template = f"{template}/{{filename}}"
            s = Served(name, route.method, template, sample)
            if s.key in found:
                old = found[s.key]
                if name not in old.services.split(","):
                    found[s.key] = Served(f"{old.services},{name}", s.method, template, sample)
            else:
                found[s.key] = s
    return sorted(found.values(), key=lambda s: (s.template, s.method))


def coverage(served: Sequence[Served], table: Mapping[str, Spec]) -> tuple[list[str], list[str]]:
    """(served routes the table does not classify, table rows nothing serves)."""
    keys = {s.key for s in served}
    missing = [f"{s.key} (served by {s.services})" for s in served if s.key not in table]
    stale = sorted(k for k in table if k not in keys)
    return missing, stale


def fill(template: str, params: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m[1] not in params:
            raise KeyError(f"{template}: no value for the path parameter {{{m[1]}}}")
        return quote(str(params[m[1]]), safe="")

    return re.sub(r"\{(\w+)(?::[^}]*)?\}", one, template)


# -- sending ----------------------------------------------------------------------------
@dataclass
class Credentials:
    bearer: str | None = None  # an organizer's API token or a device's token
    secret: str | None = None  # X-Registration-Secret
    session: str | None = None  # the console's session cookie
    csrf: str | None = None  # that session's CSRF token


@dataclass
class Prepared:
    method: str
    path: str
    creds: Credentials
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    # (what, text): text that must not be in a response this principal is let in with
    secrets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Observed:
    route: str
    principal: Principal
    status: int
    verdict: str  # allowed | denied | error
    how: int | str  # the status, LOGIN or REFUSED
    body: str = ""
    leak: str = ""


def read(
    status: int, location: str, ctype: str, body: str, *, login_is_success: bool = False
) -> tuple[str, int | str]:
    if status >= 500 or status == 0:
        return "error", status
    if status in (401, 403, 404):
        return "denied", status
    if 300 <= status < 400 and urlsplit(location).path == "/console/login":
        if not (login_is_success and location == "/console/login"):
            return "denied", LOGIN
    if status == 200 and "json" in ctype:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("results"), list) and data["results"]:
            data = data["results"][0]  # a batch of one scan
        if (
            isinstance(data, dict)
            and data.get("result") == "rejected"
            and data.get("reason") in REFUSALS
        ):
            return "denied", REFUSED
    return "allowed", status


async def send(
    client: TestClient, prep: Prepared, spec: Spec, route: str, p: Principal
) -> Observed:
    """One request with the principal's credentials, as its holder would send them: a
    bearer token and the registration secret as headers, the session cookie (and its
    CSRF token in a form) on console pages. Redirects are not followed; a stream
    (Server-Sent Events) is judged by its headers, then closed."""
    c = prep.creds
    headers: dict[str, str] = {}
    cookies = dict(prep.cookies)
    form = dict(prep.form) if prep.form is not None else None
    console = prep.path.startswith("/console")
    if c.bearer and not console:
        headers["Authorization"] = f"Bearer {c.bearer}"
    if c.secret:
        headers["X-Registration-Secret"] = c.secret
    if console and c.session:
        cookies["tomoni_session"] = c.session
        if form is not None and c.csrf:
            form.setdefault("csrf", c.csrf)
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        resp = await client.request(
            prep.method,
            prep.path,
            params=prep.query,
            headers=headers,
            json=prep.json if form is None else None,
            data=form,
            allow_redirects=False,
            timeout=ClientTimeout(total=60),
        )
    except Exception as exc:  # no answer at all: as bad as a 5xx
        return Observed(route, p, 0, "error", 0, f"{type(exc).__name__}: {exc}")
    ctype = resp.headers.get("Content-Type", "")
    try:
        stream = "text/event-stream" in ctype
        body = "" if stream else (await resp.read()).decode("utf-8", "replace")
    finally:
        resp.close()
    verdict, how = read(
        resp.status,
        resp.headers.get("Location", ""),
        ctype,
        body,
        login_is_success=spec.login_is_success,
    )
    leak = ""
    if verdict == "allowed":
        leak = ", ".join(what for what, text in prep.secrets if text and text in body)
    return Observed(route, p, resp.status, verdict, how, body[:300], leak)


Prepare = Callable[[Served, Spec, Principal], Awaitable[Prepared]]


async def run_matrix(
    client: TestClient,
    served: Iterable[Served],
    table: Mapping[str, Spec],
    principals: Iterable[Principal],
    prepare: Prepare,
    concurrency: int = 8,
) -> list[Observed]:
    """Every (route, principal) cell, a few at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def cell(s: Served, p: Principal) -> Observed:
        async with gate:
            spec = table[s.key]
            prep = await prepare(s, spec, p)
            return await send(client, prep, spec, s.key, p)

    cells = [cell(s, p) for s in served for p in principals]
    return list(await asyncio.gather(*cells))


# -- judging ----------------------------------------------------------------------------
HOLES = ("server error", "leak", "unexpected success")
MISSES = ("unexpected denial", "denied otherwise than promised")


def judge(o: Observed, table: Mapping[str, Spec]) -> tuple[str | None, Expect]:
    expect = table[o.route].policy(o.principal)
    if o.verdict == "error":
        return "server error", expect
    if o.leak:
        return "leak", expect
    if not expect.allowed and o.verdict == "allowed":
        return "unexpected success", expect
    if expect.allowed and o.verdict == "denied":
        return "unexpected denial", expect
    if not expect.allowed and o.how not in expect.denials:
        return "denied otherwise than promised", expect
    return None, expect


def findings(
    observed: Iterable[Observed], table: Mapping[str, Spec], kinds: Sequence[str]
) -> list[str]:
    out = []
    for o in observed:
        problem, expect = judge(o, table)
        if problem in kinds:
            body = " ".join(o.body.split())[:160]
            leak = f" showing {o.leak}" if o.leak else ""
            out.append(
                f"{problem}: {o.route} as {o.principal.name}: expected {expect}, "
                f"got {o.status} ({o.how}){leak} {body}"
            )
    return sorted(out)
