"""Who may do what, over every route of every service: all four services composed on one
origin as ``tomoni up`` runs them, each served route asked by each principal (anonymous;
an attendee with their own secret; an attendee with their own secret and someone else's
id; gate, booth and prize-desk devices of event X; a gate and a booth of event Y; a
revoked gate and a revoked booth of X; an organizer limited to X; one limited to Y acting
on X; the admin), with the path filled with real ids of event X's objects so that a
success would be real.

The routes come from the running applications' routers, so a route nobody classified
fails ``test_every_served_route_is_classified`` by name. Each row of ``TABLE`` is a
policy (``authz_support``) that says, per principal, "allowed" or "denied, and how" (401,
403, 404 for a secret, the console's login wall, a scan refused). Routes that change what
they act on (cancel, approve, revoke, logout…) get a target made for that cell alone.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from services.notify import service as notify_service
from shared.compose import compose
from shared.embedded import free_port
from shared.runtime import RUNTIME
from shared.testing import wait_until
from tests.integration.authz_support import (
    ADMIN,
    ANONYMOUS,
    BOOTH_X,
    BOOTH_Y,
    DESK_X,
    GATE_X,
    GATE_Y,
    HOLES,
    MISSES,
    ORGANIZER_X,
    ORGANIZER_Y,
    PRINCIPALS,
    REVOKED_BOOTH,
    REVOKED_GATE,
    Credentials,
    Observed,
    Prepared,
    Principal,
    Served,
    Spec,
    coverage,
    devices,
    fill,
    findings,
    manages_x,
    organizers,
    owner,
    public,
    registrants_or_organizers_of_x,
    run_matrix,
    served_routes,
)
from tests.integration.fullstack import event_body, four_apps
from tests.integration.regfixtures import ADMIN as ADMIN_LOGIN

REG = "/api/registration"
PASSWORD = "matrix organizer password"
GUESSED_SECRET = "not-the-secret-0123456789abcdef"
NOTIFY_CSRF = "matrix-notify-csrf"
RALLY_CSRF = "matrix-rally-csrf"
SCANNERS = ("gate", "booth", "prize_desk")


@dataclass
class Reg:
    id: str
    secret: str
    email: str
    ticket_id: str = ""
    qr_text: str = ""
    image_key: str = ""


@dataclass
class World:
    client: TestClient
    x: str
    y: str
    a: Reg  # the registration of event X the cells act on
    b: Reg  # another registration of X: the secret attendee_other_id holds
    admin: dict[str, str]
    creds: dict[str, Credentials] = field(default_factory=dict)
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)
    bodies: dict[str, Any] = field(default_factory=dict)
    booth_code: str = ""
    unsubscribe_a: str = ""
    unsubscribe_b: str = ""
    login_csrf: str = ""

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        r = await self.client.request(method, path, allow_redirects=False, **kw)
        assert r.status in (200, 201, 204), (method, path, r.status, await r.text())
        return await r.json() if r.status != 204 else None

    async def register(self, slug: str, category: str = "visitor") -> Reg:
        tag = uuid.uuid4().hex[:12]
        body = {"category": category, "name": f"Matrix {tag}", "language": "en"}
        made = await self.call(
            "POST", f"{REG}/events/{slug}/registrations", json={**body, "email": f"{tag}@ex.org"}
        )
        ticket = made.get("ticket") or {}
        key = parse_qs(urlsplit(ticket.get("qr_png_url", "")).query).get("k", [""])[0]
        return Reg(
            made["id"],
            made["secret"],
            f"{tag}@ex.org",
            ticket.get("id", ""),
            ticket.get("qr_text", ""),
            key,
        )

    async def pairing(self, slug: str, role: str = "gate", place: str = "gateZ") -> Any:
        body = {"role": role, "place": place, "label": f"matrix {place}"}
        return await self.call(
            "POST", f"{REG}/events/{slug}/devices", json=body, headers=self.admin
        )

    async def device(self, slug: str, role: str, place: str) -> tuple[str, str]:
        made = await self.pairing(slug, role, place)
        paired = await self.call(
            "POST", f"{REG}/devices/pair", json={"pairing_code": made["pairing_code"]}
        )
        return made["device_id"], paired["device_token"]


async def console_session(client: TestClient, email: str, password: str) -> tuple[str, str]:
    """Log in to the console as a browser does: (session cookie, the session's CSRF)."""
    form = await client.get("/console/login")
    token = form.cookies["tomoni_login_csrf"].value
    done = await client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf": token},
        headers={"Cookie": f"tomoni_login_csrf={token}"},
        allow_redirects=False,
    )
    assert done.status == 303, await done.text()
    session = done.cookies["tomoni_session"].value
    page = await client.get("/console/", headers={"Cookie": f"tomoni_session={session}"})
    found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found, "no CSRF token on the console's dashboard"
    return session, found[1]


RALLY = {
    "title": {"ja": "スタンプラリー", "en": "Stamp rally"},
    "min_stamps": 2,
    "booths": [
        {"code": code, "name": {"ja": code, "en": code}, "kind": "country"} for code in ("b1", "b2")
    ],
    "prizes": [{"code": "p1", "name": {"ja": "景品", "en": "Prize"}, "stock": 100}],
}


# -- the cells --------------------------------------------------------------------------
@dataclass
class Cell:
    w: World
    p: Principal
    reg: Reg
    tag: str
    device_id: str = ""
    pairing_code: str = ""

    def held(self, name: str, own: str, others_own: str) -> dict[str, str]:
        """A capability only attendees hold: their own, or (someone else's id with) theirs."""
        if self.p.kind != "attendee":
            return {}
        return {name: own if self.p.own else others_own}


def reg_id(c: Cell) -> str:
    return c.reg.id


def device_id(c: Cell) -> str:
    return c.device_id


def ticket_key(c: Cell) -> dict[str, str]:
    return c.held("k", c.reg.image_key, c.w.b.image_key)


def unsubscribe_token(c: Cell) -> dict[str, str]:
    forged = f"{c.w.unsubscribe_a.split('.')[0]}.{c.w.unsubscribe_b.split('.')[1]}"
    return c.held("t", c.w.unsubscribe_a, forged)


def scan(c: Cell) -> dict[str, str]:
    return {"client_scan_id": c.tag, "qr_text": c.reg.qr_text}


def person(c: Cell) -> dict[str, str]:
    return {
        "category": "visitor",
        "name": f"Walk {c.tag}",
        "email": f"{c.tag}@ex.org",
        "language": "en",
        "party_size": "1",
    }


TEXT = {"ja": "お知らせ", "en": "Notice"}
API_ORG = organizers()
CONSOLE = organizers(wall="console")
ANY_CONSOLE = organizers(scoped=False, wall="console")
OWNER_ONLY = owner()
SCANNER = devices(*SCANNERS, x_ticket=False)
R, C, E, RID = REG, "/console", "/console/events/{slug}", "/console/registrations/{id}"

TABLE: dict[str, Spec] = {
    # health, readiness, the OpenAPI documents, the keys, static files: public
    **{f"{m} {p}": Spec(public) for m in ("GET", "HEAD") for p in ("/healthz", "/readyz")},
    **{
        f"GET /api/{svc}/{what}": Spec(public)
        for svc in ("registration", "checkin", "stamprally", "notify")
        for what in ("healthz", "readyz", "openapi.json")
    },
    **{
        f"{m} {p}/{{filename}}": Spec(public)
        for m in ("GET", "HEAD")
        for p in (
            "/events/static",
            "/console/static",
            "/scan/static",
            "/rally/static",
            "/notify/static",
        )
    },
    f"GET {R}/keys": Spec(public),
    "GET /api/checkin/keys": Spec(public),
    # registration: events
    f"GET {R}/events": Spec(public),
    f"GET {R}/events/{{slug}}": Spec(public),
    f"POST {R}/events": Spec(API_ORG, json=lambda c: c.w.bodies["x"]),  # X exists: 409 or 403
    f"PUT {R}/events/{{slug}}": Spec(API_ORG, json=lambda c: c.w.bodies["x"]),
    f"GET {R}/events/{{slug}}/live": Spec(API_ORG),
    f"GET {R}/events/{{slug}}/registrations": Spec(API_ORG),
    f"POST {R}/events/{{slug}}/registrations": Spec(registrants_or_organizers_of_x, json=person),
    f"POST {R}/events/{{slug}}/announcements": Spec(
        API_ORG, json=lambda c: {"subject": TEXT, "body": TEXT}
    ),
    f"POST {R}/events/{{slug}}/devices": Spec(
        API_ORG, json=lambda c: {"role": "gate", "place": "gateV"}
    ),
    f"GET {R}/events/{{slug}}/devices": Spec(API_ORG),
    f"POST {R}/devices/{{id}}/revoke": Spec(API_ORG, id=device_id, fresh="device"),
    f"POST {R}/devices/pair": Spec(
        public, json=lambda c: {"pairing_code": c.pairing_code}, fresh="pairing"
    ),
    f"POST {R}/auth/login": Spec(
        public,
        json=lambda c: dict(zip(("email", "password"), c.w.logins[ORGANIZER_X.name], strict=True)),
    ),
    f"POST {R}/organizers": Spec(
        organizers(admin_only=True),
        json=lambda c: {"email": f"o-{c.tag}@ex.org", "password": PASSWORD, "events": [c.w.x]},
    ),
    # registration: one registration
    f"GET {R}/registrations/{{id}}": Spec(OWNER_ONLY, id=reg_id),
    f"POST {R}/registrations/{{id}}/change": Spec(
        OWNER_ONLY, id=reg_id, json=lambda c: {"language": "vi"}, fresh="registration"
    ),
    f"POST {R}/registrations/{{id}}/cancel": Spec(
        owner(or_organizers_of_x=True), id=reg_id, fresh="registration"
    ),
    f"POST {R}/registrations/{{id}}/erase": Spec(
        owner(or_organizers_of_x=True), id=reg_id, fresh="registration"
    ),
    f"GET {R}/registrations/{{id}}/export": Spec(API_ORG, id=reg_id),
    f"POST {R}/registrations/{{id}}/approve": Spec(API_ORG, id=reg_id, fresh="application"),
    f"POST {R}/registrations/{{id}}/reject": Spec(API_ORG, id=reg_id, fresh="application"),
    f"GET {R}/tickets/{{id}}/qr.{{fmt}}": Spec(
        OWNER_ONLY, id=lambda c: c.reg.ticket_id, query=ticket_key
    ),
    # the attendee pages: public, and the capability link /events/r/{id}/{secret}
    "GET /events": Spec(public),
    "GET /events/": Spec(public),
    "GET /events/{slug}": Spec(public),
    "GET /events/{slug}/register/{category}": Spec(public),
    "POST /events/{slug}/register/{category}": Spec(public, form=person),
    "GET /events/r/{id}/{secret}": Spec(OWNER_ONLY, id=reg_id),
    "GET /events/r/{id}/{secret}/ticket.png": Spec(OWNER_ONLY, id=reg_id),
    "GET /events/r/{id}/{secret}/change": Spec(OWNER_ONLY, id=reg_id),
    "POST /events/r/{id}/{secret}/change": Spec(
        OWNER_ONLY,
        id=reg_id,
        form=lambda c: {"email": c.reg.email, "language": "vi"},
        fresh="registration",
    ),
    "GET /events/r/{id}/{secret}/cancel": Spec(OWNER_ONLY, id=reg_id),
    "POST /events/r/{id}/{secret}/cancel": Spec(
        OWNER_ONLY, id=reg_id, form=lambda c: {}, fresh="registration"
    ),
    "GET /events/r/{id}/{secret}/erase": Spec(OWNER_ONLY, id=reg_id),
    "POST /events/r/{id}/{secret}/erase": Spec(
        OWNER_ONLY, id=reg_id, form=lambda c: {}, fresh="registration"
    ),
    # the console (session cookie + CSRF); login and language are public
    f"GET {C}/login": Spec(public),
    f"POST {C}/login": Spec(
        public,
        form=lambda c: {
            "email": c.w.logins[ORGANIZER_X.name][0],
            "password": PASSWORD,
            "csrf": c.w.login_csrf,
        },
        cookies=lambda c: {"tomoni_login_csrf": c.w.login_csrf},
        fresh="session",
    ),
    f"GET {C}/language": Spec(public, query=lambda c: {"lang": "en", "next": "/console/"}),
    f"POST {C}/logout": Spec(
        ANY_CONSOLE, form=lambda c: {}, fresh="session", login_is_success=True
    ),
    f"GET {C}": Spec(ANY_CONSOLE, private_to_x=True),
    f"GET {C}/": Spec(ANY_CONSOLE, private_to_x=True),
    f"GET {C}/events/new": Spec(ANY_CONSOLE),
    f"POST {C}/events/new": Spec(ANY_CONSOLE, form=lambda c: {}),  # an empty form: 422
    f"GET {E}": Spec(CONSOLE),
    f"GET {E}/live": Spec(CONSOLE),
    f"GET {E}/live/stream": Spec(organizers(wall="stream")),
    f"GET {E}/registrations.csv": Spec(CONSOLE),
    f"GET {E}/edit": Spec(CONSOLE),
    f"POST {E}/edit": Spec(CONSOLE, form=lambda c: {}),  # an empty form: 422, nothing saved
    f"GET {E}/register": Spec(CONSOLE),
    f"POST {E}/register": Spec(CONSOLE, form=person),
    f"GET {E}/devices": Spec(CONSOLE),
    f"POST {E}/devices": Spec(CONSOLE, form=lambda c: {"role": "gate", "place": "gateW"}),
    f"POST {E}/devices/{{id}}/revoke": Spec(
        CONSOLE, id=device_id, form=lambda c: {}, fresh="device"
    ),
    f"GET {E}/announce": Spec(CONSOLE),
    f"POST {E}/announce": Spec(
        CONSOLE,
        form=lambda c: {f"{k}.{lang}": t for k in ("subject", "body") for lang, t in TEXT.items()},
    ),
    f"POST {RID}/approve": Spec(CONSOLE, id=reg_id, form=lambda c: {}, fresh="application"),
    f"POST {RID}/reject": Spec(CONSOLE, id=reg_id, form=lambda c: {}, fresh="application"),
    f"GET {RID}/cancel": Spec(CONSOLE, id=reg_id),
    f"POST {RID}/cancel": Spec(CONSOLE, id=reg_id, form=lambda c: {}, fresh="registration"),
    f"GET {RID}/export": Spec(CONSOLE, id=reg_id),
    f"GET {RID}/erase": Spec(CONSOLE, id=reg_id),
    f"POST {RID}/erase": Spec(CONSOLE, id=reg_id, form=lambda c: {}, fresh="registration"),
    f"GET {RID}/ticket": Spec(CONSOLE, id=reg_id),
    # checkin
    "POST /api/checkin/scans": Spec(devices("gate", x_ticket=True), json=scan),
    "POST /api/checkin/scans/batch": Spec(
        devices("gate", x_ticket=True), json=lambda c: {"scans": [scan(c)]}
    ),
    "GET /api/checkin/device": Spec(SCANNER),
    "GET /api/checkin/revoked": Spec(SCANNER),
    "GET /scan/event.json": Spec(SCANNER),
    "GET /api/checkin/events/{slug}/counts": Spec(API_ORG),
    "GET /api/checkin/events/{slug}/duplicates": Spec(API_ORG),
    **{f"GET /scan{p}": Spec(public) for p in ("", "/", "/pair", "/sw.js", "/i18n/{lang}.json")},
    # stamprally
    "GET /api/stamprally/events": Spec(organizers(scoped=False), private_to_x=True),
    "POST /api/stamprally/events/{slug}/rally": Spec(API_ORG, json=lambda c: RALLY),
    "PUT /api/stamprally/events/{slug}/rally": Spec(API_ORG, json=lambda c: RALLY),
    "GET /api/stamprally/events/{slug}/rally": Spec(public),
    "GET /api/stamprally/events/{slug}/stats": Spec(API_ORG),
    "POST /api/stamprally/stamps": Spec(devices("booth", x_ticket=True), json=scan),
    "POST /api/stamprally/redemptions": Spec(devices("prize_desk", x_ticket=True), json=scan),
    "GET /api/stamprally/booth-code": Spec(devices("booth", x_ticket=False)),
    "GET /api/stamprally/cards/{ticket_id}": Spec(OWNER_ONLY),
    "POST /api/stamprally/cards/{ticket_id}/stamps": Spec(
        OWNER_ONLY, json=lambda c: {"booth_code": c.w.booth_code}
    ),
    "GET /rally/cards/{ticket_id}/{secret}": Spec(OWNER_ONLY),
    "GET /rally/cards/{ticket_id}/{secret}/events": Spec(OWNER_ONLY),
    # notify
    "GET /api/notify/events": Spec(organizers(scoped=False), private_to_x=True),
    "GET /api/notify/notifications": Spec(API_ORG, query=lambda c: {"registration": c.reg.id}),
    **{
        f"GET /api/notify/events/{{slug}}/{w}": Spec(API_ORG)
        for w in ("summary", "announcements", "settings")
    },
    "PUT /api/notify/events/{slug}/settings": Spec(
        API_ORG, json=lambda c: {"reminder_time": "10:00", "rally_completed": False}
    ),
    "GET /notify/unsubscribe": Spec(OWNER_ONLY, query=unsubscribe_token),
    "POST /notify/unsubscribe": Spec(OWNER_ONLY, form=unsubscribe_token),
    "GET /console/notify/{slug}": Spec(CONSOLE),
    "GET /console/rally/{slug}": Spec(CONSOLE),
    "GET /console/checkin/{slug}": Spec(CONSOLE),
    "POST /console/rally/{slug}": Spec(
        CONSOLE,
        form=lambda c: {
            "csrf": RALLY_CSRF,
            "title.ja": "ラリー",
            "min_stamps": "1",
            "booths.0.code": f"m-{c.tag}",
            "booths.0.name.ja": "ブース",
        },
        cookies=lambda c: {"tomoni_rally_csrf": RALLY_CSRF},
    ),
    "POST /console/notify/{slug}/settings": Spec(
        CONSOLE,
        form=lambda c: {"csrf": NOTIFY_CSRF, "reminder_on": "1", "reminder_time": "09:30"},
        cookies=lambda c: {"tomoni_notify_csrf": NOTIFY_CSRF},
    ),
}


async def prepare(w: World, s: Served, spec: Spec, p: Principal) -> Prepared:
    """The request of one cell: a fresh target when the route changes it, the principal's
    credentials, and the path filled with event X's real ids."""
    cell = Cell(w, p, w.a, uuid.uuid4().hex[:12])
    creds = replace(w.creds[p.name])
    if spec.fresh in ("registration", "application"):
        cell.reg = await w.register(w.x, "speaker" if spec.fresh == "application" else "visitor")
    elif spec.fresh == "device":
        cell.device_id = (await w.pairing(w.x))["device_id"]
    elif spec.fresh == "pairing":
        cell.pairing_code = (await w.pairing(w.x))["pairing_code"]
    elif spec.fresh == "session" and p.kind == "organizer":
        creds.session, creds.csrf = await console_session(w.client, *w.logins[p.name])
    if p.kind == "attendee":
        creds.secret = cell.reg.secret if p.own else w.b.secret
    params = {
        "slug": w.x,
        "ticket_id": cell.reg.ticket_id,
        "secret": creds.secret or GUESSED_SECRET,
        "category": "visitor",
        "lang": "ja",
        "fmt": "png",
        "filename": s.sample_file,
    }
    if spec.id is not None:
        params["id"] = spec.id(cell)
    secrets: list[tuple[str, str]] = []
    if not (p.own or manages_x(p)):
        secrets.append(("the registrant's email", cell.reg.email))
        if spec.private_to_x:
            secrets.append(("event X", w.x))
    return Prepared(
        s.method,
        fill(s.template, params),
        creds,
        query=spec.query(cell) if spec.query else {},
        json=spec.json(cell) if spec.json else None,
        form=spec.form(cell) if spec.form else None,
        cookies=spec.cookies(cell) if spec.cookies else {},
        secrets=tuple(secrets),
    )


# -- the running system and its data ----------------------------------------------------
@dataclass
class Matrix:
    served: list[Served]
    observed: list[Observed]


async def known(db: asyncpg.Pool, sql: str, *args: Any) -> None:
    await wait_until(lambda: db.fetchval(sql, *args), timeout=30, message=sql)


async def build_world(client: TestClient, apps: dict[str, web.Application], db: Any) -> World:
    """Events X and Y, an organizer limited to each, two registrations of X, the devices
    (two of them revoked), X's stamp rally; then wait until checkin, stamprally and
    notify have heard of all of it, so that every answer is the service's real one."""
    tag = uuid.uuid4().hex[:8]
    r = await client.post(
        f"{REG}/auth/login", json={"email": ADMIN_LOGIN[0], "password": ADMIN_LOGIN[1]}
    )
    admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
    nobody = Reg("", "", "")
    w = World(client, f"authz-x-{tag}", f"authz-y-{tag}", nobody, nobody, admin)
    w.bodies = {"x": event_body(w.x), "y": event_body(w.y)}
    for body in w.bodies.values():
        await w.call("POST", f"{REG}/events", json=body, headers=admin)
    for p, slug in ((ORGANIZER_X, w.x), (ORGANIZER_Y, w.y)):
        email = f"{p.name}-{tag}@ex.org"
        body = {"email": email, "password": PASSWORD, "events": [slug]}
        await w.call("POST", f"{REG}/organizers", json=body, headers=admin)
        w.logins[p.name] = (email, PASSWORD)
    w.logins[ADMIN.name] = ADMIN_LOGIN
    for p in (ORGANIZER_X, ORGANIZER_Y, ADMIN):
        email, password = w.logins[p.name]
        login = await w.call(
            "POST", f"{REG}/auth/login", json={"email": email, "password": password}
        )
        session, csrf = await console_session(client, email, password)
        w.creds[p.name] = Credentials(bearer=login["token"], session=session, csrf=csrf)
    for schema in ("checkin", "stamprally", "notify"):
        await known(
            db, f"SELECT count(*) = 2 FROM {schema}.events WHERE slug = ANY($1)", [w.x, w.y]
        )
        await known(db, f"SELECT true FROM {schema}.public_keys LIMIT 1")
    await w.call("POST", f"/api/stamprally/events/{w.x}/rally", json=RALLY, headers=admin)
    w.a, w.b = await w.register(w.x), await w.register(w.x)
    places = {
        GATE_X: (w.x, "gateA"),
        BOOTH_X: (w.x, "b1"),
        DESK_X: (w.x, "desk"),
        GATE_Y: (w.y, "gateA"),
        BOOTH_Y: (w.y, "b1"),
        REVOKED_GATE: (w.x, "gateR"),
        REVOKED_BOOTH: (w.x, "b2"),
    }
    for p, (slug, place) in places.items():
        made_id, token = await w.device(slug, str(p.role), place)
        w.creds[p.name] = Credentials(bearer=token)
        if p.revoked:
            await w.call("POST", f"{REG}/devices/{made_id}/revoke", headers=admin)
            for schema in ("checkin", "stamprally"):
                sql = f"SELECT revoked FROM {schema}.devices WHERE id = $1"
                await known(db, sql, uuid.UUID(made_id))
    for p in PRINCIPALS:
        w.creds.setdefault(p.name, Credentials())
    await known(
        db,
        "SELECT true FROM checkin.tickets WHERE id = $1 AND party_size IS NOT NULL",
        uuid.UUID(w.a.ticket_id),
    )
    await known(
        db,
        "SELECT true FROM stamprally.tickets WHERE id = $1 AND display_name IS NOT NULL",
        uuid.UUID(w.a.ticket_id),
    )
    for reg in (w.a, w.b):
        sql = "SELECT true FROM notify.recipients WHERE registration_id = $1"
        await known(db, sql, uuid.UUID(reg.id))
    code = await w.call(
        "GET",
        "/api/stamprally/booth-code",
        headers={"Authorization": f"Bearer {w.creds[BOOTH_X.name].bearer}"},
    )
    w.booth_code = code["code"]
    notify_rt = apps["notify"][RUNTIME]
    w.unsubscribe_a = await notify_service.unsubscribe_token(notify_rt, uuid.UUID(w.a.id))
    w.unsubscribe_b = await notify_service.unsubscribe_token(notify_rt, uuid.UUID(w.b.id))
    w.login_csrf = (await client.get("/console/login")).cookies["tomoni_login_csrf"].value
    return w


@pytest.fixture(scope="module")
async def matrix(
    make_settings: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Matrix]:
    """All four services on one origin (as ``tomoni up``), every cell asked once."""
    port = free_port()
    apps = four_apps(
        make_settings,
        data_dir=tmp_path_factory.mktemp("authz"),
        port=port,
        admin=ADMIN_LOGIN,
        registration={"db_pool_max": 12},
        notify={"notify_reminder_poll_seconds": 3600.0},
        rate_limit=False,
    )
    root = compose(list(apps.values()), max_body_bytes=1024 * 1024)
    # No cookie jar: a cookie one cell is given must never travel with another's request.
    server = TestServer(root, host="127.0.0.1", port=port)
    client = TestClient(server, cookie_jar=DummyCookieJar())
    await client.start_server()
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        world = await build_world(client, apps, db)
        served = served_routes({**apps, "compose": root})
        runnable = [s for s in served if s.key in TABLE]

        async def prep(s: Served, spec: Spec, p: Principal) -> Prepared:
            return await prepare(world, s, spec, p)

        observed = await run_matrix(client, runnable, TABLE, PRINCIPALS, prep)
        yield Matrix(served, observed)
    finally:
        await db.close()
        await client.close()


# -- the tests --------------------------------------------------------------------------
def test_every_served_route_is_classified(matrix: Matrix) -> None:
    missing, stale = coverage(matrix.served, TABLE)
    assert not missing, "routes with no row in TABLE (classify them):\n" + "\n".join(missing)
    assert not stale, "rows in TABLE that nothing serves (remove them):\n" + "\n".join(stale)


def test_no_principal_gets_in_where_it_is_denied(matrix: Matrix) -> None:
    """Zero unexpected successes, no personal data or foreign event shown, no 5xx."""
    asked = {(o.route, o.principal.name) for o in matrix.observed}
    classified = [s.key for s in matrix.served if s.key in TABLE]
    assert asked == {(k, p.name) for k in classified for p in PRINCIPALS}
    holes = findings(matrix.observed, TABLE, HOLES)
    assert not holes, f"{len(holes)} of {len(matrix.observed)} cells:\n" + "\n".join(holes)


def test_every_entitled_principal_gets_in_and_denials_answer_as_promised(
    matrix: Matrix,
) -> None:
    misses = findings(matrix.observed, TABLE, MISSES)
    assert not misses, f"{len(misses)} of {len(matrix.observed)} cells:\n" + "\n".join(misses)


# -- controls: the checker can fail ------------------------------------------------------
def test_control_a_cell_expected_denied_is_reported_when_it_succeeds(matrix: Matrix) -> None:
    """The real answers judged against a table where one route is for the admin alone:
    organizer X's real 200 on it must come out as the one new unexpected success."""
    key = f"GET {R}/events/{{slug}}/registrations"
    flipped = {**TABLE, key: replace(TABLE[key], policy=organizers(admin_only=True))}
    before = set(findings(matrix.observed, TABLE, HOLES))
    new = [f for f in findings(matrix.observed, flipped, HOLES) if f not in before]
    assert len(new) == 1 and new[0].startswith(f"unexpected success: {key} as organizer_x:"), new


async def test_control_an_unprotected_route_and_a_leaky_list_are_caught() -> None:
    """The same enumeration, requests and judging against a tiny application: one route
    checks the organizer properly, one forgot to, one lists every event to any organizer,
    and one is in no table."""
    scopes = {"Bearer org-x": ["x-slug"], "Bearer org-y": ["y-slug"]}

    async def guarded(request: web.Request) -> web.StreamResponse:
        events = scopes.get(request.headers.get("Authorization", ""))
        if events is None:
            raise web.HTTPUnauthorized()
        if request.match_info["slug"] not in events:
            raise web.HTTPForbidden()
        return web.json_response({"registrations": ["victim@ex.org"]})

    async def unguarded(request: web.Request) -> web.StreamResponse:
        return web.json_response({"registrations": 3})  # the deliberate hole

    async def every_event(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization", "") not in scopes:
            raise web.HTTPUnauthorized()
        return web.json_response({"items": ["x-slug", "y-slug"]})  # not filtered: a leak

    app = web.Application()
    app.router.add_route("GET", "/api/demo/events/{slug}/guarded", guarded)
    app.router.add_route("GET", "/api/demo/events/{slug}/unguarded", unguarded)
    app.router.add_route("GET", "/api/demo/events", every_event)
    app.router.add_route("GET", "/api/demo/forgotten", unguarded)
    table = {
        "GET /api/demo/events/{slug}/guarded": Spec(API_ORG),
        "GET /api/demo/events/{slug}/unguarded": Spec(API_ORG),
        "GET /api/demo/events": Spec(organizers(scoped=False), private_to_x=True),
    }
    creds = {ORGANIZER_X.name: "org-x", ORGANIZER_Y.name: "org-y"}
    principals = (ANONYMOUS, ORGANIZER_X, ORGANIZER_Y)

    async def prep(s: Served, spec: Spec, p: Principal) -> Prepared:
        secrets = [] if manages_x(p) else [("the registrant's email", "victim@ex.org")]
        if spec.private_to_x and not manages_x(p):
            secrets.append(("event X", "x-slug"))
        path = fill(s.template, {"slug": "x-slug"})
        return Prepared(
            s.method, path, Credentials(bearer=creds.get(p.name)), secrets=tuple(secrets)
        )

    served = served_routes({"demo": app})
    async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
        runnable = [s for s in served if s.key in table]
        observed = await run_matrix(client, runnable, table, principals, prep)

    assert coverage(served, table) == (["GET /api/demo/forgotten (served by demo)"], [])
    holes = findings(observed, table, HOLES)
    assert [h.split(": expected")[0] for h in holes] == [
        "leak: GET /api/demo/events as organizer_y_on_x",
        "unexpected success: GET /api/demo/events/{slug}/unguarded as anonymous",
        "unexpected success: GET /api/demo/events/{slug}/unguarded as organizer_y_on_x",
    ], holes
    assert findings(observed, table, MISSES) == []
