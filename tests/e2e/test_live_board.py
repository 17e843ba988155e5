"""The organizers' live board (``/console/events/{slug}/live``) end to end: registration,
checkin, stamprally and notify (with a real SMTP server) composed on one port as ``tomoni
up`` runs them, a real Chromium logged into the console, and a NATS of this module's own,
so that it can be stopped and started again without disturbing other test modules.

Each number on the board must show the right value within one second of the request that
moved it (measured from before the request is sent until the page shows it); the delays
are written to ``tests/artifacts/live-board-delays.json``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page, expect

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.notify.app import create_app as notify_app
from services.notify.settings import NotifySettings
from services.registration.app import create_app as registration_app
from services.registration.console.web import translator
from services.registration.settings import RegistrationSettings
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings
from shared.compose import compose
from shared.embedded import EmbeddedNats, free_port
from shared.openapi import Handler
from shared.testing import wait_until
from tests.e2e.browser import ARTIFACTS, chromium, has_horizontal_overflow, phone, screenshot
from tests.e2e.scanner_support.stack import CHK, RALLY, REG, Stack
from tests.integration.mailfixtures import Mailbox, SmtpServer
from tests.integration.regfixtures import ADMIN, new_slug

WITHIN = 1.0  # seconds from the request to the number on the page
JA = translator("ja")
DELAYS: dict[str, float] = {}


# -- the services, on one port, on a NATS of this module's own --------------------------
@dataclass
class LiveStack(Stack):
    # The boards' open streams, so a test can cut them as a network would.
    streams: list[web.Request] = field(default_factory=list)

    def cut_streams(self) -> None:
        for request in self.streams:
            if request.transport is not None:
                request.transport.close()
        self.streams.clear()


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """Stopped and started again by a test: the same port and the same JetStream store,
    as after a restart of the real server."""
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(Mailbox())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def stack(
    make_settings: Any,
    database_url: str,
    bus: EmbeddedNats,
    smtp: SmtpServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveStack]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"

    def settings(cls: type[Any], **extra: Any) -> Any:
        return make_settings(cls, nats_url=bus.url, rate_limit=False, public_url=public, **extra)

    apps = [
        registration_app(
            settings(
                RegistrationSettings,
                data_dir=tmp_path_factory.mktemp("reg"),
                admin_email=ADMIN[0],
                admin_password=ADMIN[1],
                db_pool_max=10,
            )
        ),
        checkin_app(settings(CheckinSettings)),
        stamprally_app(settings(StamprallySettings)),
        notify_app(settings(NotifySettings, smtp_url=smtp.url, notify_poll_seconds=0.2)),
    ]
    root = compose(apps, max_body_bytes=1024 * 1024)
    streams: list[web.Request] = []

    @web.middleware
    async def keep_streams(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.endswith("/live/stream"):
            streams.append(request)
        return await handler(request)

    root.middlewares.append(keep_streams)
    client = TestClient(TestServer(root, port=port))
    await client.start_server()
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        r = await client.post(f"{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
        s = LiveStack(client=client, db=db, admin=admin, hits=[], stamprally=True)
        s.streams = streams
        await s.keys_published()
        yield s
    finally:
        await db.close()
        await client.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[OpenPage]:
    """A fresh screen per call (a tablet unless told); any CSP violation fails the test."""
    violations: list[str] = []
    async with AsyncExitStack() as screens:

        async def make(
            locale: str = "ja-JP", width: int = 1180, height: int = 820, **options: Any
        ) -> Page:
            page = await screens.enter_async_context(
                phone(
                    browser,
                    locale=locale,
                    viewport={"width": width, "height": height},
                    device_scale_factor=1,
                    is_mobile=False,
                    has_touch=width < 1280,
                    **options,
                )
            )
            page.on(
                "console",
                lambda m: (
                    violations.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )
            return page

        yield make
    assert violations == []


# -- helpers ----------------------------------------------------------------------------
async def open_event(stack: Stack, *, rally: bool = True) -> str:
    """An event that is open now (so a silent gate is worth a warning), with visitors
    (who may ask for an interpreter) and exhibitors (reviewed), and a stamp rally: three
    booths and two prizes, one of them nearly gone (unless ``rally`` is false)."""
    slug = new_slug("live")
    start = datetime.now(UTC) - timedelta(hours=1)
    end = start + timedelta(hours=8)
    await stack.post(
        f"{REG}/events",
        {
            "slug": slug,
            "kind": "fair",
            "title": {"ja": "多文化ふれあいフェスタ", "en": "Multicultural Fair"},
            "venue": {"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
            "starts_at": start.isoformat(),
            "ends_at": end.isoformat(),
            "registration_closes_at": end.isoformat(),
            "categories": [
                {
                    "code": "visitor",
                    "title": {"ja": "来場者", "en": "Visitor"},
                    "capacity": 1200,
                    "max_party_size": 5,
                    "fields": [
                        {
                            "key": "interpreter",
                            "type": "choice",
                            "label": {"ja": "通訳", "en": "Interpreter"},
                            "choices": [
                                {"value": "none", "label": {"ja": "不要", "en": "Not needed"}},
                                {"value": "vi", "label": {"ja": "ベトナム語", "en": "Vietnamese"}},
                                {"value": "ne", "label": {"ja": "ネパール語", "en": "Nepali"}},
                            ],
                        }
                    ],
                },
                {
                    "code": "exhibitor",
                    "title": {"ja": "出展者", "en": "Exhibitor"},
                    "capacity": 10,
                    "review": True,
                },
            ],
        },
        headers=stack.admin,
    )
    for schema in ("checkin", "stamprally", "notify"):
        await stack.known(f"SELECT true FROM {schema}.events WHERE slug = $1", slug)
    if not rally:
        return slug
    await stack.post(
        f"{RALLY}/events/{slug}/rally",
        {
            "title": {"ja": "スタンプラリー", "en": "Stamp rally"},
            "min_stamps": 2,
            "booths": [
                {"code": code, "name": {"ja": ja, "en": en}, "kind": "country"}
                for code, ja, en in (
                    ("vn", "ベトナム", "Vietnam"),
                    ("np", "ネパール", "Nepal"),
                    ("ph", "フィリピン", "Philippines"),
                )
            ],
            "prizes": [
                {"code": "bag", "name": {"ja": "エコバッグ", "en": "Tote bag"}, "stock": 3},
                {"code": "pen", "name": {"ja": "ボールペン", "en": "Pen"}, "stock": 50},
            ],
        },
        headers=stack.admin,
    )
    return slug


async def device(stack: Stack, slug: str, role: str, place: str) -> dict[str, str]:
    """A paired phone's headers, once the service it scans for has heard of it."""
    made = await stack.pairing(slug, place, role)
    paired = await stack.post(f"{REG}/devices/pair", {"pairing_code": made["pairing_code"]})
    if role == "gate":
        await stack.device_known(made["device_id"])
    else:
        await stack.rally_knows(device_id=made["device_id"])
    return {"Authorization": f"Bearer {paired['device_token']}"}


def person(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "category": "visitor",
        "name": name,
        "email": f"{uuid.uuid4().hex[:12]}@example.org",
        "language": "vi",
        "party_size": 1,
        **extra,
    }


async def log_in_to(page: Page, stack: Stack, path: str, email: str = ADMIN[0]) -> None:
    """Open a console page: the login page comes first, then back to the page."""
    await page.goto(f"{stack.base}{path}")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.locator("input[name=email]").fill(email)
    await page.locator("input[name=password]").fill(ADMIN[1])
    await page.locator("input[name=password]").press("Enter")
    await expect(page).to_have_url(f"{stack.base}{path}")


async def board_is_live(page: Page) -> None:
    await expect(page.locator("#board")).to_have_attribute("data-state", "live")


def value(key: str) -> str:
    return f'[data-value="{key}"]'


SHOWS = """(checks) => checks.every(([selector, text]) => {
  const el = document.querySelector(selector);
  return el !== null && el.textContent.trim() === text;
})"""
READ = """(checks) => checks.map(([selector]) => {
  const el = document.querySelector(selector);
  return [selector, el === null ? null : el.textContent.trim()];
})"""


async def shows(page: Page, checks: list[tuple[str, str]], timeout: float = 5.0) -> None:
    try:
        await page.wait_for_function(SHOWS, arg=checks, timeout=timeout * 1000)
    except Exception:
        seen = await page.evaluate(READ, checks)
        raise AssertionError(f"the board does not show {checks}; it shows {seen}") from None


async def moves(
    page: Page, what: str, action: Callable[[], Awaitable[Any]], checks: list[tuple[str, str]]
) -> None:
    """Do ``action`` and wait for the board to show every check; the time from before the
    request to the last number on the page must be under a second."""
    start = time.monotonic()
    await action()
    await shows(page, checks)
    took = time.monotonic() - start
    DELAYS[what] = round(took, 3)
    assert took < WITHIN, f"{what}: the board took {took:.2f}s"


def write_delays() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "live-board-delays.json").write_text(json.dumps(DELAYS, indent=2) + "\n")


# -- the board, from the first registration to the last prize ---------------------------
async def test_every_number_on_the_board_moves_within_a_second_and_survives_a_nats_restart(
    stack: Stack, bus: EmbeddedNats, open_page: OpenPage
) -> None:
    slug = await open_event(stack)
    east = await device(stack, slug, "gate", "east")
    west = await device(stack, slug, "gate", "west")
    vn = await device(stack, slug, "booth", "vn")
    np_ = await device(stack, slug, "booth", "np")
    desk = await device(stack, slug, "prize_desk", "desk")

    page = await open_page()
    await log_in_to(page, stack, f"/console/events/{slug}/live")
    await board_is_live(page)
    await expect(page.locator("[data-status]")).to_have_text(JA.gettext("Live"))
    await shows(
        page,
        [
            (value("registration.registered_people"), "0"),
            (value("registration.places_left"), "1,210"),
            ('[data-category="visitor"] [data-cell="registered"]', "0 / 1,200"),
            (value("checkin.inside_people"), "0"),
            (value("stamprally.completed"), "0"),
            (value("stamprally.prizes_left_total"), "53"),
            (value("notify.sent"), "0"),
        ],
    )
    # Booth and prize names from the rally's description, in the console's language.
    await expect(page.locator('[data-booth="vn"] th')).to_contain_text("ベトナム")
    await expect(page.locator('[data-prize="bag"] th')).to_contain_text("エコバッグ")
    # Fewer than 10 of the bags to begin with: flagged before anyone redeems one.
    await expect(page.locator('[data-prize="bag"] [data-flag="low"]')).to_be_visible()
    await expect(page.locator('[data-prize="pen"] [data-flag]')).to_have_count(0)

    # Register three: a family of two asking for a Vietnamese interpreter, one more
    # visitor, and an exhibitor whose application waits for review.
    made: dict[str, dict[str, Any]] = {}

    def register(key: str, body: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            made[key] = await stack.post(f"{REG}/events/{slug}/registrations", body)

        return go

    a = person("Tran Van Anh", party_size=2, answers={"interpreter": "vi"})
    await moves(
        page,
        "registered 2 (a party of two)",
        register("a", a),
        [
            (value("registration.registered_people"), "2"),
            ('[data-category="visitor"] [data-cell="registered"]', "2 / 1,200"),
            ('[data-language="vi"] [data-cell="count"]', "2"),
            ('[data-interpreter="vi"] [data-cell="count"]', "1"),
        ],
    )
    b = person("Gurung Sita", language="ne")
    await moves(
        page,
        "registered 3",
        register("b", b),
        [
            (value("registration.registered_people"), "3"),
            (value("registration.places_left"), "1,207"),
            ('[data-language="ne"] [data-cell="count"]', "1"),
        ],
    )
    c = person("Silva Ana", category="exhibitor", language="pt")
    await moves(
        page,
        "application under review",
        register("c", c),
        [
            (value("registration.pending_review"), "1"),
            ('[data-category="exhibitor"] [data-cell="pending"]', "1"),
            (value("registration.registered_people"), "3"),
        ],
    )
    ticket_a, ticket_b = made["a"]["ticket"], made["b"]["ticket"]
    for t in (ticket_a, ticket_b):
        await stack.known(
            "SELECT true FROM checkin.tickets WHERE id = $1 AND party_size IS NOT NULL",
            uuid.UUID(t["id"]),
        )
    await stack.rally_knows(ticket_id=ticket_a["id"])

    # Two in (at two gates), one out.
    def scan(headers: dict[str, str], ticket: dict[str, Any], direction: str) -> Any:
        async def go() -> None:
            body = {
                "client_scan_id": uuid.uuid4().hex,
                "qr_text": ticket["qr_text"],
                "direction": direction,
            }
            answer = await stack.post(f"{CHK}/scans", body, headers=headers)
            assert answer["result"] == {"in": "admitted", "out": "exited"}[direction], answer

        return go

    await moves(
        page,
        "scan in (party of two, east)",
        scan(east, ticket_a, "in"),
        [
            (value("checkin.admitted_people"), "2"),
            (value("checkin.admitted_parties"), "1"),
            (value("checkin.inside_people"), "2"),
            ('[data-gate="east"] [data-cell="admitted_people"]', "2"),
        ],
    )
    await moves(
        page,
        "scan in (west)",
        scan(west, ticket_b, "in"),
        [
            (value("checkin.admitted_people"), "3"),
            (value("checkin.admitted_parties"), "2"),
            (value("checkin.inside_people"), "3"),
            ('[data-gate="west"] [data-cell="inside_people"]', "1"),
        ],
    )
    await moves(
        page,
        "scan out (party of two, east)",
        scan(east, ticket_a, "out"),
        [
            (value("checkin.inside_people"), "1"),
            (value("checkin.admitted_people"), "3"),
            ('[data-gate="east"] [data-cell="inside_people"]', "0"),
        ],
    )
    assert int(await page.locator(value("checkin.scans_last_minute")).inner_text()) == 3
    if await page.locator('[data-optional="checkin.arrivals_by_5min"]').is_visible():
        await expect(page.locator('[data-chart="arrivals"] canvas').first).to_be_visible()
        await expect(page.locator('[data-note="arrivals"]')).not_to_be_empty()

    # Two booths stamp the family's card (the rally needs two stamps), then a prize.
    def stamp(headers: dict[str, str], path: str, expect_result: str) -> Any:
        async def go() -> None:
            body = {"client_scan_id": uuid.uuid4().hex, "qr_text": ticket_a["qr_text"]}
            answer = await stack.post(f"{RALLY}/{path}", body, headers=headers)
            assert answer["result"] == expect_result, answer

        return go

    await moves(
        page,
        "stamp at the first booth",
        stamp(vn, "stamps", "stamped"),
        [
            (value("stamprally.stamps"), "1"),
            ('[data-booth="vn"] [data-cell="stamps"]', "1"),
            (value("stamprally.completed"), "0"),
        ],
    )
    await expect(page.locator('[data-booth="vn"] [data-flag="busiest"]')).to_be_visible()
    await moves(
        page,
        "stamp at the second booth (card complete)",
        stamp(np_, "stamps", "stamped"),
        [
            (value("stamprally.stamps"), "2"),
            ('[data-booth="np"] [data-cell="stamps"]', "1"),
            (value("stamprally.completed"), "1"),
        ],
    )
    await expect(page.locator('[data-booth="ph"] [data-flag="emptiest"]')).to_be_visible()
    await expect(page.locator('[data-chart="booths"] canvas').first).to_be_visible()
    await moves(
        page,
        "prize redeemed",
        stamp(desk, "redemptions", "redeemed"),
        [
            (value("stamprally.redeemed"), "1"),
            ('[data-prize="bag"] [data-cell="left"]', "2"),
            (value("stamprally.prizes_left_total"), "52"),
        ],
    )
    await expect(page.locator('[data-prize="bag"] [data-flag="low"]')).to_be_visible()

    # Messages: the two tickets and the stamp card's message go out through SMTP.
    async def sent_in_db() -> int:
        return int(
            await stack.db.fetchval(
                "SELECT count(*) FROM notify.notifications WHERE event = $1 AND status = 'sent'",
                slug,
            )
        )

    await wait_until(lambda: _at_least(sent_in_db, 2), timeout=15, message="messages sent")
    await wait_until(
        lambda: _page_matches(page, value("notify.sent"), sent_in_db),
        timeout=5,
        message="the board's count of messages sent",
    )
    await screenshot(page, "live-board-tablet")
    assert not await has_horizontal_overflow(page)

    # NATS goes away: the board says so; when it is back, the truth again.
    stopped = time.monotonic()
    await asyncio.to_thread(bus.stop)
    await expect(page.locator("#board")).to_have_attribute(
        "data-state", "reconnecting", timeout=10_000
    )
    await expect(page.locator("[data-status]")).to_have_text(
        JA.gettext("Reconnecting… The numbers shown may be out of date.")
    )
    DELAYS["nats stopped → reconnecting shown"] = round(time.monotonic() - stopped, 3)
    await screenshot(page, "live-board-reconnecting")
    started = time.monotonic()
    await asyncio.to_thread(bus.start)
    await board_is_live(page)
    DELAYS["nats started → live again"] = round(time.monotonic() - started, 3)
    await shows(
        page,
        [
            (value("registration.registered_people"), "3"),
            (value("checkin.inside_people"), "1"),
            (value("stamprally.redeemed"), "1"),
        ],
    )
    start = time.monotonic()
    await stack.post(f"{REG}/events/{slug}/registrations", person("Nguyen Thi Binh"))
    await shows(page, [(value("registration.registered_people"), "4")], timeout=15)
    DELAYS["registered after the restart"] = round(time.monotonic() - start, 3)
    write_delays()


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


async def _page_matches(page: Page, selector: str, count: Callable[[], Awaitable[int]]) -> bool:
    return (await page.locator(selector).inner_text()).strip() == str(await count())


async def test_a_gate_silent_for_ten_minutes_while_the_event_is_open_is_flagged(
    stack: Stack, open_page: OpenPage
) -> None:
    slug = await open_event(stack)
    east = await device(stack, slug, "gate", "east")
    made = await stack.post(f"{REG}/events/{slug}/registrations", person("Pham Minh"))
    await stack.known(
        "SELECT true FROM checkin.tickets WHERE id = $1 AND party_size IS NOT NULL",
        uuid.UUID(made["ticket"]["id"]),
    )
    scan = {"client_scan_id": "s1", "qr_text": made["ticket"]["qr_text"], "direction": "in"}
    await stack.post(f"{CHK}/scans", scan, headers=east)
    page = await open_page()
    # The page's clock, moved on below: silence makes no snapshot, the page keeps watch.
    await page.clock.install()
    await log_in_to(page, stack, f"/console/events/{slug}/live")
    await board_is_live(page)
    gate = page.locator('[data-gate="east"]')
    flag = gate.locator('[data-flag="silent"]')
    await expect(gate.locator('[data-cell="admitted_people"]')).to_have_text("1")
    await expect(flag).to_have_count(0)
    await page.clock.fast_forward("09:00")
    await expect(gate.locator('[data-cell="admitted_people"]')).to_have_text("1")
    await expect(flag).to_have_count(0)
    await page.clock.fast_forward("02:00")
    await expect(flag).to_be_visible()
    await expect(flag).to_have_text(
        JA.gettext("No scans for %(n)s minutes. Check the device.") % {"n": "11"}
    )
    await screenshot(page, "live-board-silent-gate")
    # After the event has closed, a quiet gate is no news.
    await page.clock.fast_forward(7 * 3600 * 1000)
    await expect(flag).to_have_count(0)


# -- projector --------------------------------------------------------------------------
async def test_projector_mode_shows_big_numbers_and_no_personal_data(
    stack: Stack, open_page: OpenPage
) -> None:
    slug = await open_event(stack)
    people = [
        person("Projector Nguyen", email=f"projector-{uuid.uuid4().hex[:6]}@example.org"),
        person(
            "Projector Shrestha",
            email=f"shrestha-{uuid.uuid4().hex[:6]}@example.org",
            phone="+819012345678",
            language="ne",
        ),
    ]
    for body in people:
        await stack.post(f"{REG}/events/{slug}/registrations", body)
    page = await open_page(width=1920, height=1080)
    await log_in_to(page, stack, f"/console/events/{slug}/live?projector=1")
    await board_is_live(page)
    await shows(page, [(value("registration.registered_people"), "2")])
    await expect(page.locator(".site-header")).to_have_count(0)
    await expect(page.locator(".tabs")).to_have_count(0)
    text = await page.locator("body").inner_text()
    html = await page.content()
    for body in people:
        for secret in (body["name"], body["email"], body.get("phone")):
            if secret:
                assert secret not in text and secret not in html
    for organizer_data in (ADMIN[0], "090-1234-5678", "9012345678"):
        assert organizer_data not in text and organizer_data not in html
    size = await page.locator(value("registration.registered_people")).evaluate(
        "(el) => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert size >= 64, size
    colours = await page.evaluate(
        "() => [getComputedStyle(document.body).backgroundColor,"
        " getComputedStyle(document.getElementById('board')).color]"
    )
    assert colours == ["rgb(0, 0, 0)", "rgb(255, 255, 255)"]
    await screenshot(page, "live-board-projector")


# -- the tab, and who may open the board ------------------------------------------------
async def test_the_event_tabs_lead_to_the_live_board(stack: Stack, open_page: OpenPage) -> None:
    slug = await open_event(stack)
    page = await open_page(locale="en-US")
    await log_in_to(page, stack, f"/console/events/{slug}")
    await page.get_by_role("link", name="Live board").click()
    await expect(page).to_have_url(f"{stack.base}/console/events/{slug}/live")
    await board_is_live(page)
    await expect(page.get_by_role("link", name="Live board")).to_have_attribute(
        "aria-current", "page"
    )
    await expect(page.locator("[data-status]")).to_have_text("Live")
    await shows(page, [(value("registration.places_left"), "1,210")])
    phone_page = await open_page(locale="en-US", width=390, height=844)
    await log_in_to(phone_page, stack, f"/console/events/{slug}/live")
    await board_is_live(phone_page)
    assert not await has_horizontal_overflow(phone_page)
    await screenshot(phone_page, "live-board-phone")


@asynccontextmanager
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        yield http


async def http_login(http: aiohttp.ClientSession, stack: Stack, email: str) -> None:
    page = await (await http.get(f"{stack.base}/console/login")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    form = {"email": email, "password": ADMIN[1], "csrf": found.group(1)}
    done = await http.post(f"{stack.base}/console/login", data=form, allow_redirects=False)
    assert done.status == 303


async def first_event(response: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    event = ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            return event, json.loads(line[6:])
    raise AssertionError("the stream ended")


async def test_the_stream_is_for_organizers_of_the_event_only(stack: Stack) -> None:
    mine = await open_event(stack)
    other = await open_event(stack)
    board = f"/console/events/{mine}/live"
    async with http_session() as http:
        # No session: the stream is refused, the page goes to the login page.
        refused = await http.get(f"{stack.base}{board}/stream")
        assert refused.status == 401
        page = await http.get(f"{stack.base}{board}", allow_redirects=False)
        assert page.status == 303
        assert page.headers["Location"] == f"/console/login?next=/console/events/{mine}/live"

    email = f"org-{uuid.uuid4().hex[:8]}@tomoni.test"
    await stack.post(
        f"{REG}/organizers",
        {"email": email, "password": ADMIN[1], "events": [mine]},
        headers=stack.admin,
    )
    async with http_session() as http:
        await http_login(http, stack, email)
        forbidden = await http.get(f"{stack.base}/console/events/{other}/live/stream")
        assert forbidden.status == 403
        page = await http.get(f"{stack.base}/console/events/{other}/live")
        assert page.status == 403 and "text/html" in page.headers["Content-Type"]
        ok = await http.get(f"{stack.base}{board}/stream")
        try:
            assert ok.status == 200
            assert ok.headers["Content-Type"].startswith("text/event-stream")
            event, snapshot = await asyncio.wait_for(first_event(ok), 5)
            assert event == "snapshot" and snapshot["event"] == mine
            assert snapshot["registration"]["registered_people"] == 0
        finally:
            ok.close()


async def test_a_dropped_stream_shows_reconnecting_and_an_ended_session_asks_to_log_in(
    stack: LiveStack, open_page: OpenPage
) -> None:
    slug = await open_event(stack)
    page = await open_page(locale="en-US")
    await log_in_to(page, stack, f"/console/events/{slug}/live")
    await board_is_live(page)
    board = page.locator("#board")
    # The connection drops (a proxy, the venue's Wi-Fi): the browser retries by itself.
    stack.cut_streams()
    await expect(board).to_have_attribute("data-state", "reconnecting")
    await expect(page.locator("[data-status]")).to_have_text(
        "Reconnecting… The numbers shown may be out of date."
    )
    await board_is_live(page)
    await stack.post(f"{REG}/events/{slug}/registrations", person("Lee Min"))
    await shows(page, [(value("registration.registered_people"), "1")])
    # Logged out in another tab meanwhile: the stream is refused, the page says to log in.
    other_tab = await page.context.new_page()
    await other_tab.goto(f"{stack.base}/console/")
    await other_tab.get_by_role("button", name="Log out").click()
    await expect(other_tab).to_have_url(re.compile(r"/console/login"))
    stack.cut_streams()
    await expect(board).to_have_attribute("data-state", "ended", timeout=15_000)
    await expect(page.locator("[data-status]")).to_have_text("Not updating")
    login = page.locator("[data-ended] a")
    await expect(login).to_be_visible()
    await login.click()
    await expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Fevents%2F"))


async def test_the_stamp_rally_tab_opens_the_form_and_a_raised_stock_reaches_the_board(
    stack: Stack, open_page: OpenPage
) -> None:
    """Through the one port of ``tomoni up``: the event's Stamp rally tab is stamprally's
    form (with the console's own style and no CSP violation), filled from the rally; a
    prize's stock raised there shows on the live board."""
    slug = await open_event(stack)
    page = await open_page(locale="en-US")
    await log_in_to(page, stack, f"/console/events/{slug}/live")
    await board_is_live(page)
    await shows(page, [(value("stamprally.prizes_left_total"), "53")])
    await page.get_by_role("link", name="Stamp rally", exact=True).click()
    await expect(page).to_have_url(f"{stack.base}/console/rally/{slug}")
    await expect(page.locator("h1")).to_contain_text("Stamp rally")
    header = await page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert header not in ("rgba(0, 0, 0, 0)", "transparent"), "console.css did not load"
    await expect(page.locator("#f-booths-0-code")).to_have_value("vn")
    await expect(page.locator("#f-booths-2-name-en")).to_have_value("Philippines")
    await expect(page.locator("#f-prizes-0-stock")).to_have_value("3")
    await page.locator("#f-prizes-0-stock").fill("13")
    await page.get_by_role("button", name="Save the stamp rally").click()
    await expect(page.locator("p.notice[role=status]")).to_be_visible()
    await expect(page.locator("#f-prizes-0-stock")).to_have_value("13")
    await screenshot(page, "rally-console-tablet")
    await page.goto(f"{stack.base}/console/events/{slug}/live")
    await board_is_live(page)
    await shows(page, [(value("stamprally.prizes_left_total"), "63")])


async def test_a_board_without_a_rally_says_so_and_links_to_the_form(
    stack: Stack, open_page: OpenPage
) -> None:
    slug = await open_event(stack, rally=False)
    page = await open_page(locale="en-US")
    await log_in_to(page, stack, f"/console/events/{slug}/live")
    await board_is_live(page)
    empty = page.locator('[data-empty="rally"]')
    await expect(empty).to_be_visible()
    await empty.get_by_role("link", name="Set up the stamp rally").click()
    await expect(page).to_have_url(f"{stack.base}/console/rally/{slug}")
    await expect(page.locator("#f-booths-0-code")).to_have_value("")


async def test_the_board_links_to_the_offline_duplicates_page_of_checkin(
    stack: Stack, open_page: OpenPage
) -> None:
    slug = await open_event(stack)
    page = await open_page(locale="en-US")
    await log_in_to(page, stack, f"/console/events/{slug}/live")
    await board_is_live(page)
    await page.get_by_role("link", name="Tickets admitted twice while phones were offline").click()
    await expect(page).to_have_url(f"{stack.base}/console/checkin/{slug}")
    await expect(page.locator('[data-duplicates="none"]')).to_be_visible()
    tabs = page.get_by_role("navigation", name="Event pages")
    await tabs.get_by_role("link", name="Live board").click()
    await board_is_live(page)
