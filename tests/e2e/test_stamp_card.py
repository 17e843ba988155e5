"""The attendee's stamp card in a real browser on a phone: registration and stamprally
running against real PostgreSQL and NATS, a rally set up by the organizer, booth devices
paired, and stamps that appear on the open page within a second, up to the completion
screen. Also: the capability (a wrong secret is a 404 page), Japanese with furigana,
the page's accessibility basics, the live stream itself, the self-service scan of a
booth's rotating code (over the API and through a fake camera), and the link from the
registration's page.

Screenshots of what the attendee sees are saved in ``tests/artifacts/rally-*.png``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from services.registration import service as registration
from services.registration.domain import Category, EventDraft
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings
from shared.runtime import RUNTIME
from shared.testing import wait_until
from tests.e2e.browser import (
    CHROMIUM_ARGS,
    chromium,
    has_horizontal_overflow,
    phone,
    require_chromium,
    screenshot,
    small_touch_targets,
)
from tests.e2e.scanner_support.camera import write_ticket_video
from tests.integration.regfixtures import ADMIN, make_event, new_slug, rt, running_registration

REG = "/api/registration"
SR = "/api/stamprally"
LIVE_MS = 1_000  # a stamp is on the open page within a second


@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


@pytest.fixture(scope="module")
async def sr(make_settings: Any, reg: TestClient) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(stamprally_app(make_settings(StamprallySettings))))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def admin(reg: TestClient) -> dict[str, str]:
    r = await reg.post(f"{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
    assert r.status == 200
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


def base_of(client: TestClient) -> str:
    return str(client.make_url("/")).rstrip("/")


async def known(db: asyncpg.Pool, sql: str, *args: Any) -> Any:
    return await wait_until(lambda: db.fetchval(sql, *args), timeout=30, message=sql)


RALLY: dict[str, Any] = {
    "title": {"ja": "世界一周スタンプラリー", "en": "Around the World Stamp Rally"},
    "min_stamps": 2,
    "booths": [
        {"code": "vietnam", "name": {"ja": "ベトナム", "en": "Vietnam"}, "kind": "country"},
        {"code": "brazil", "name": {"ja": "ブラジル", "en": "Brazil"}, "kind": "country"},
        {
            "code": "info",
            "name": {"ja": "案内所", "en": "Information desk"},
            "kind": "info",
            "description": {"ja": "地図があります。", "vi": "Có bản đồ hội trường."},
        },
    ],
    "prizes": [{"code": "bag", "name": {"ja": "エコバッグ", "en": "Eco bag"}, "stock": 10}],
}


async def rally_event(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str], **rule: Any
) -> str:
    """A fair with a rally: three booths, two stamps to complete (and ``rule``)."""
    slug = await make_event(reg)
    await known(db, "SELECT true FROM stamprally.events WHERE slug = $1", slug)
    r = await sr.post(f"{SR}/events/{slug}/rally", json={**RALLY, **rule}, headers=admin)
    assert r.status == 201, await r.text()
    return slug


async def booth(
    reg: TestClient, db: asyncpg.Pool, admin: dict[str, str], slug: str, place: str
) -> dict[str, str]:
    """A paired booth tablet's bearer header, once stamprally knows the device."""
    made = await (
        await reg.post(
            f"{REG}/events/{slug}/devices", headers=admin, json={"role": "booth", "place": place}
        )
    ).json()
    r = await reg.post(f"{REG}/devices/pair", json={"pairing_code": made["pairing_code"]})
    assert r.status == 200, await r.text()
    token = (await r.json())["device_token"]
    await known(
        db, "SELECT true FROM stamprally.devices WHERE id = $1", uuid.UUID(made["device_id"])
    )
    return {"Authorization": f"Bearer {token}"}


async def attendee(
    reg: TestClient, db: asyncpg.Pool, slug: str, name: str, language: str
) -> dict[str, Any]:
    """A confirmed registration, once stamprally has its ticket: the card's URL too."""
    r = await reg.post(
        f"{REG}/events/{slug}/registrations",
        json={
            "category": "visitor",
            "name": name,
            "email": f"{uuid.uuid4().hex[:10]}@example.org",
            "language": language,
            "party_size": 1,
        },
    )
    assert r.status == 201, await r.text()
    made: dict[str, Any] = await r.json()
    ticket = uuid.UUID(made["ticket"]["id"])
    await known(db, "SELECT card_key IS NOT NULL FROM stamprally.tickets WHERE id = $1", ticket)
    made["card_path"] = f"/rally/cards/{ticket}/{made['secret']}"
    return made


async def stamp(sr: TestClient, device: dict[str, str], qr_text: str) -> dict[str, Any]:
    r = await sr.post(
        f"{SR}/stamps",
        json={"client_scan_id": uuid.uuid4().hex, "qr_text": qr_text},
        headers=device,
    )
    assert r.status == 200, await r.text()
    answer: dict[str, Any] = await r.json()
    return answer


class Watch:
    """Script errors and loads the CSP refused (no inline code is allowed)."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda e: self.problems.append(f"error: {e}"))
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console: {m.text}")
                if "Content Security Policy" in m.text or "Refused to" in m.text
                else None
            ),
        )


async def live(page: Page) -> None:
    """The page's stream is open (it says so once the first card arrived)."""
    await expect(page.locator("#live")).to_be_visible()
    await expect(page.locator("#live")).not_to_be_empty()


async def accessibility_basics(page: Page) -> None:
    """What an accessibility checker looks at first, on the page as shown: the page's
    language; every landmark section named by a heading that exists; a name for the
    progress bar and every button; text in another language marked with its own; one
    h1; nothing too small to tap; nothing wider than the phone."""
    problems = await page.evaluate(
        """() => {
          const out = [];
          const lang = document.documentElement.getAttribute('lang');
          if (!lang) out.push('html without lang');
          if (document.querySelectorAll('h1').length !== 1) out.push('not one h1');
          for (const el of document.querySelectorAll('[aria-labelledby]')) {
            for (const id of el.getAttribute('aria-labelledby').split(' ')) {
              const target = document.getElementById(id);
              if (!target || !target.textContent.trim()) out.push('label missing: ' + id);
            }
          }
          for (const el of document.querySelectorAll('[aria-describedby]')) {
            for (const id of el.getAttribute('aria-describedby').split(' ')) {
              if (!document.getElementById(id)) out.push('description missing: ' + id);
            }
          }
          for (const b of document.querySelectorAll('button, a[href]')) {
            if (!b.textContent.trim() && !b.getAttribute('aria-label')) {
              out.push('unnamed ' + b.outerHTML.slice(0, 60));
            }
          }
          const bar = document.querySelector('progress');
          if (!bar || !bar.getAttribute('aria-labelledby')) out.push('progress without a name');
          for (const el of document.querySelectorAll('[lang]')) {
            const code = el.getAttribute('lang');
            if (!/^[a-z]{2}$/.test(code)) out.push('bad lang ' + code);
          }
          const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
          if (new Set(ids).size !== ids.length) out.push('duplicate ids');
          return out;
        }"""
    )
    assert problems == []
    assert not await has_horizontal_overflow(page)
    assert await small_touch_targets(page) == []


# -- the page in the browser -----------------------------------------------------------------
async def test_stamps_appear_live_and_the_card_completes(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str], browser: Browser
) -> None:
    slug = await rally_event(reg, sr, db, admin)
    vietnam = await booth(reg, db, admin, slug, "vietnam")
    brazil = await booth(reg, db, admin, slug, "brazil")
    a = await attendee(reg, db, slug, "Maria Santos", "pt")
    qr = a["ticket"]["qr_text"]
    url = base_of(sr) + a["card_path"]
    async with phone(browser, locale="en-US") as page:
        watch = Watch(page)
        await page.goto(f"{url}?lang=en")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("h1")).to_have_text("Around the World Stamp Rally")
        await expect(page.locator("#progress-text")).to_have_text("0 of 2 stamps")
        await expect(page.locator("#complete")).to_be_hidden()
        await expect(page.locator("#others li.booth")).to_have_count(3)
        await expect(page.locator("#others")).to_contain_text("Vietnam")
        await expect(page.locator("#others")).to_contain_text("Information")  # the kind
        await expect(page.locator("#scanner")).to_be_visible()  # shown by the script
        await live(page)
        await accessibility_basics(page)
        await screenshot(page, "rally-en-empty")
        await page.evaluate("() => { window.notReloaded = true; }")

        first = await stamp(sr, vietnam, qr)
        assert (first["result"], first["stamps"], first["completed"]) == ("stamped", 1, False)
        started = time.monotonic()
        await expect(page.locator("#progress-text")).to_have_text("1 of 2 stamps", timeout=LIVE_MS)
        assert time.monotonic() - started < LIVE_MS / 1000
        await expect(page.locator("#stamped li.booth")).to_have_count(1)
        await expect(page.locator("#stamped")).to_contain_text("Vietnam")
        await expect(page.locator("#stamped .stamped-at")).to_contain_text(re.compile(r"\d\d:\d\d"))
        await expect(page.locator("#others li.booth")).to_have_count(2)
        await expect(page.locator("#progress-bar")).to_have_js_property("value", 1)
        await expect(page.locator("#live")).to_contain_text("New stamp: Vietnam")
        await screenshot(page, "rally-en-one-stamp")

        second = await stamp(sr, brazil, qr)
        assert (second["result"], second["completed"]) == ("stamped", True)
        complete = page.locator("#complete")
        await expect(complete).to_be_visible(timeout=LIVE_MS)
        await expect(complete).to_contain_text("Your card is complete")
        await expect(complete).to_contain_text("goal desk")
        await expect(page.locator("#progress-text")).to_have_text("2 of 2 stamps")
        await expect(page.locator("#to-go")).to_be_hidden()
        assert await page.evaluate("() => window.notReloaded === true")  # updated in place
        await accessibility_basics(page)
        await screenshot(page, "rally-en-complete")
        assert watch.problems == []

    # Reloaded (or without JavaScript), the server renders the same card.
    r = await sr.get(f"{a['card_path']}?lang=en")
    html = await r.text()
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    assert "2 of 2 stamps" in re.sub(r"<[^>]+>", "", html)
    assert re.search(r'<section id="complete"[^>]*>', html)
    assert "hidden" not in re.search(r'<section id="complete"[^>]*>', html).group(0)  # type: ignore[union-attr]


async def test_japanese_card_with_a_required_booth_has_furigana(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str], browser: Browser
) -> None:
    slug = await rally_event(reg, sr, db, admin, required_booths=["info"])
    vietnam = await booth(reg, db, admin, slug, "vietnam")
    a = await attendee(reg, db, slug, "川口 花子", "ja")
    async with phone(browser, locale="vi-VN") as page:  # the ticket's language wins
        watch = Watch(page)
        await page.goto(base_of(sr) + a["card_path"])
        await expect(page.locator("html")).to_have_attribute("lang", "ja")
        await expect(page.locator("h1")).to_have_text("世界一周スタンプラリー")
        assert await page.locator("ruby").count() > 5
        assert await page.locator("#progress-text ruby").count() >= 1
        needed = page.locator("#needed li.booth")
        await expect(needed).to_have_count(1)  # the required booth, marked
        await expect(needed.locator(".badge")).to_be_visible()
        await expect(page.locator("#needed")).to_contain_text("案内所")
        await expect(page.locator("#needed .booth-about")).to_have_text("地図があります。")
        await expect(page.locator("#others .booth-about")).to_have_count(0)  # none given
        await live(page)
        await accessibility_basics(page)
        await screenshot(page, "rally-ja-card")

        await stamp(sr, vietnam, a["ticket"]["qr_text"])
        # One stamp of two, but the required booth is still missing: "1 of 2" all the same.
        await expect(page.locator(".n-done").first).to_have_text("1", timeout=LIVE_MS)
        await expect(page.locator(".n-to-go").first).to_have_text("1")
        await expect(page.locator("#needed li.booth")).to_have_count(1)
        await screenshot(page, "rally-ja-one-stamp")
        assert watch.problems == []

        # The language picker switches and remembers the choice.
        await page.goto(base_of(sr) + a["card_path"] + "?lang=vi")
        await expect(page.locator("html")).to_have_attribute("lang", "vi")
        # Booth names given in Japanese and English only: shown in Japanese, marked so.
        await expect(page.locator('#needed .booth-name span[lang="ja"]')).to_have_text("案内所")
        # Its description was written in Vietnamese too: shown so, in the page's language.
        about = page.locator("#needed .booth-about")
        await expect(about).to_have_text("Có bản đồ hội trường.")
        await expect(about.locator("span[lang]")).to_have_count(0)
        cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
        assert cookies["tomoni_lang"] == "vi"


async def test_without_javascript_the_card_is_all_there(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str], browser: Browser
) -> None:
    slug = await rally_event(reg, sr, db, admin, required_booths=["vietnam"])
    vietnam = await booth(reg, db, admin, slug, "vietnam")
    a = await attendee(reg, db, slug, "Ram Thapa", "ne")
    await stamp(sr, vietnam, a["ticket"]["qr_text"])
    async with phone(browser, locale="ne-NP", java_script_enabled=False) as page:
        await page.goto(base_of(sr) + a["card_path"])
        await expect(page.locator("html")).to_have_attribute("lang", "ne")
        await expect(page.locator(".n-done").first).to_have_text("1")
        await expect(page.locator("#progress-bar")).to_have_attribute("value", "1")
        await expect(page.locator("#stamped li.booth")).to_have_count(1)
        await expect(page.locator("#stamped .badge")).to_be_visible()  # a required booth
        await expect(page.locator("#others li.booth")).to_have_count(2)
        await expect(page.locator("#needed-section")).to_be_hidden()
        await expect(page.locator("#scanner")).to_be_hidden()  # needs the script
        await expect(page.get_by_role("link", name=re.compile("QR"))).to_have_attribute(
            "href", f"/events/r/{a['id']}/{a['secret']}"
        )
        await accessibility_basics(page)
        await screenshot(page, "rally-ne-no-script")


async def test_a_lost_stream_falls_back_to_the_api(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str], browser: Browser
) -> None:
    """A stream that cannot be opened (a proxy that cuts it, a bad network): the page
    says so, keeps trying, and shows the truth from the API meanwhile."""
    slug = await rally_event(reg, sr, db, admin)
    vietnam = await booth(reg, db, admin, slug, "vietnam")
    a = await attendee(reg, db, slug, "Somchai Dee", "th")
    async with phone(browser, locale="th-TH") as page:
        watch = Watch(page)
        await page.route(re.compile(r".*/events$"), lambda route: route.abort())
        await page.goto(base_of(sr) + a["card_path"])
        await expect(page.locator("#live")).to_contain_text("การเชื่อมต่อขาดหาย")
        await stamp(sr, vietnam, a["ticket"]["qr_text"])
        await expect(page.locator(".n-done").first).to_have_text("1", timeout=20_000)
        await expect(page.locator("#stamped li.booth")).to_have_count(1)
        assert [p for p in watch.problems if "ERR_FAILED" not in p] == []


async def test_a_wrong_secret_or_ticket_is_a_404_page(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await rally_event(reg, sr, db, admin)
    a = await attendee(reg, db, slug, "Tran Van An", "vi")
    ticket = a["ticket"]["id"]
    for path in (
        f"/rally/cards/{ticket}/not-the-secret?lang=ja",
        f"/rally/cards/{uuid.uuid4()}/{a['secret']}?lang=ja",
        f"/rally/cards/not-a-uuid/{a['secret']}?lang=ja",
        f"/rally/cards/{ticket}/not-the-secret/events?lang=ja",
        "/rally/nothing-here?lang=ja",
    ):
        r = await sr.get(path)
        assert r.status == 404, path
        assert r.content_type == "text/html", path
        body = await r.text()
        assert '<html lang="ja">' in body and "<ruby>" in body, path
        assert "Tran" not in body and "vietnam" not in body, path
    api = await sr.get(f"{SR}/cards/{ticket}", headers={"X-Registration-Secret": "nope"})
    assert api.status == 404 and api.content_type == "application/problem+json"


async def test_an_event_without_a_rally_says_so(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(reg)
    a = await attendee(reg, db, slug, "Ayu Lestari", "id")
    sr.session.cookie_jar.clear()  # no language chosen before: the ticket's
    r = await sr.get(a["card_path"])
    assert r.status == 404
    html = await r.text()
    assert '<html lang="id">' in html
    assert f'href="/events/r/{a["id"]}/{a["secret"]}"' in html  # back to the ticket


async def test_the_page_keeps_to_the_csp_and_renders_in_every_language(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    from shared.i18n import LANGUAGES

    slug = await rally_event(reg, sr, db, admin, required_booths=["brazil"])
    a = await attendee(reg, db, slug, "Nguyen Thi Lan", "vi")
    for lang in LANGUAGES:
        r = await sr.get(f"{a['card_path']}?lang={lang}")
        assert r.status == 200, lang
        html = await r.text()
        assert f'<html lang="{lang}">' in html, lang
        assert " style=" not in html and "<style" not in html, lang
        assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html)), lang
        assert 'name="viewport"' in html and "maximum-scale" not in html, lang
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    # Without ?lang, the ticket's language; no cookie is set.
    sr.session.cookie_jar.clear()
    r = await sr.get(a["card_path"], headers={"Accept-Language": "en"})
    assert '<html lang="vi">' in await r.text()
    assert "tomoni_lang" not in r.headers.get("Set-Cookie", "")
    static = await sr.get("/rally/static/vendor/jsqr-1.4.0.min.js")
    assert static.status == 200
    assert (await static.text()).startswith("/*! jsQR 1.4.0")


# -- the live stream ---------------------------------------------------------------------------
async def read_event(stream: Any, timeout: float) -> tuple[str, Any]:
    """The next ``event:``/``data:`` message (comments skipped)."""
    name, data = "message", None
    async with asyncio.timeout(timeout):
        while True:
            line = (await stream.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                return name, data


async def test_the_stream_sends_the_card_after_each_stamp_and_lets_go(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await rally_event(reg, sr, db, admin)
    vietnam = await booth(reg, db, admin, slug, "vietnam")
    a = await attendee(reg, db, slug, "Ali Yilmaz", "tr")
    nc = sr.server.app[RUNTIME].nc
    before = len(nc._subs)
    r = await sr.get(f"{a['card_path']}/events", timeout=ClientTimeout(total=30))
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers["Cache-Control"] == "no-store"
    name, card = await read_event(r.content, 5)
    assert name == "card" and card["stamps"] == [] and card["required"] == 2
    assert len(nc._subs) == before + 1

    await stamp(sr, vietnam, a["ticket"]["qr_text"])
    started = time.monotonic()
    name, card = await read_event(r.content, LIVE_MS / 1000)
    assert time.monotonic() - started < LIVE_MS / 1000
    assert name == "card" and [s["booth"] for s in card["stamps"]] == ["vietnam"]
    assert (
        card
        == await (
            await sr.get(
                f"{SR}/cards/{a['ticket']['id']}", headers={"X-Registration-Secret": a["secret"]}
            )
        ).json()
    )

    r.close()  # the phone goes away: its subscription ends
    await wait_until(lambda: len(nc._subs) == before, timeout=5, message="unsubscribed")


async def test_the_prize_handed_out_reaches_the_open_card(
    reg: TestClient,
    sr: TestClient,
    db: asyncpg.Pool,
    admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A redemption is not announced on the bus: a complete card's stream looks again at
    each keep-alive tick (15 s; shortened here)."""
    from services.stamprally.pages import card as card_page

    monkeypatch.setattr(card_page, "KEEPALIVE_SECONDS", 0.5)
    slug = await rally_event(reg, sr, db, admin)
    vietnam = await booth(reg, db, admin, slug, "vietnam")
    brazil = await booth(reg, db, admin, slug, "brazil")
    a = await attendee(reg, db, slug, "Lan Nguyen", "vi")
    qr = a["ticket"]["qr_text"]
    await stamp(sr, vietnam, qr)
    assert (await stamp(sr, brazil, qr))["completed"] is True
    r = await sr.get(f"{a['card_path']}/events", timeout=ClientTimeout(total=30))
    name, card = await read_event(r.content, 5)
    assert (card["completed"], card["redeemed"]) == (True, False)

    made = await (
        await reg.post(
            f"{REG}/events/{slug}/devices",
            headers=admin,
            json={"role": "prize_desk", "place": "goal"},
        )
    ).json()
    paired = await (
        await reg.post(f"{REG}/devices/pair", json={"pairing_code": made["pairing_code"]})
    ).json()
    await known(
        db, "SELECT true FROM stamprally.devices WHERE id = $1", uuid.UUID(made["device_id"])
    )
    desk = {"Authorization": f"Bearer {paired['device_token']}"}
    given = await sr.post(
        f"{SR}/redemptions", json={"client_scan_id": uuid.uuid4().hex, "qr_text": qr}, headers=desk
    )
    assert (await given.json())["result"] == "redeemed"
    name, card = await read_event(r.content, 3)
    assert (name, card["redeemed"], card["prize"]) == ("card", True, "bag")
    r.close()

    html = await (await sr.get(f"{a['card_path']}?lang=en")).text()
    assert re.search(r'<p class="big" id="redeemed">You have received your prize', html)
    assert re.search(r'<p class="big" id="show-desk" hidden>', html)
    assert "Eco bag" in html


async def test_the_card_says_when_the_rally_is_not_open(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await rally_event(reg, sr, db, admin)
    a = await attendee(reg, db, slug, "Carlos Silva", "pt")
    now = datetime.now(UTC)
    ended = {"opens_at": (now - timedelta(hours=5)).isoformat(), "closes_at": now.isoformat()}
    for rule, text in (
        ({"opens_at": (now + timedelta(days=2)).isoformat()}, "The stamp rally starts on"),
        (ended, "The stamp rally has ended."),
        ({}, None),
    ):
        r = await sr.put(f"{SR}/events/{slug}/rally", json={**RALLY, **rule}, headers=admin)
        assert r.status == 200, await r.text()
        html = await (await sr.get(f"{a['card_path']}?lang=en")).text()
        notices = re.findall(r'<p class="notice warn">(.*?)</p>', html, re.S)
        if text is None:
            assert notices == [], rule
        else:
            assert len(notices) == 1 and text in notices[0], (rule, notices)


# -- self-service: the booth's rotating code -----------------------------------------------------
async def booth_code(sr: TestClient, device: dict[str, str]) -> str:
    r = await sr.get(f"{SR}/booth-code", headers=device)
    assert r.status == 200, await r.text()
    code: str = (await r.json())["code"]
    assert code.startswith("B1.")
    return code


async def test_the_attendee_scans_a_booths_code_over_the_api(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await rally_event(reg, sr, db, admin)
    brazil = await booth(reg, db, admin, slug, "brazil")
    a = await attendee(reg, db, slug, "Ana Souza", "pt")
    mine = {"X-Registration-Secret": a["secret"]}
    path = f"{SR}/cards/{a['ticket']['id']}/stamps"
    code = await booth_code(sr, brazil)

    r = await sr.post(path, json={"booth_code": code}, headers=mine)
    answer = await r.json()
    assert r.status == 200 and answer["result"] == "stamped" and answer["booth"] == "brazil"
    assert (answer["stamps"], answer["required"], answer["completed"]) == (1, 2, False)
    again = await (await sr.post(path, json={"booth_code": code}, headers=mine)).json()
    assert again["result"] == "already_stamped"

    prefix, step, mac = code.rsplit(".", 2)
    for forged in (
        f"{prefix}.{step}.{'A' * len(mac)}",
        code.replace(".brazil.", ".vietnam."),
        "B1.brazil.nonsense",
    ):
        r = await sr.post(path, json={"booth_code": forged}, headers=mine)
        assert r.status == 200
        assert await r.json() == {"result": "rejected", "reason": "invalid_code"}, forged
    wrong = await sr.post(path, json={"booth_code": code}, headers={"X-Registration-Secret": "x"})
    assert wrong.status == 404
    count = await db.fetchval(
        "SELECT count(*) FROM stamprally.stamps WHERE ticket_id = $1", uuid.UUID(a["ticket"]["id"])
    )
    assert count == 1


async def test_the_attendee_scans_a_booths_code_with_the_camera(
    reg: TestClient,
    sr: TestClient,
    db: asyncpg.Pool,
    admin: dict[str, str],
    tmp_path: Path,
) -> None:
    slug = await rally_event(reg, sr, db, admin)
    brazil = await booth(reg, db, admin, slug, "brazil")
    a = await attendee(reg, db, slug, "Juan Pérez", "es")
    video = write_ticket_video(await booth_code(sr, brazil), tmp_path / "booth.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    async with async_playwright() as pw:
        cam = await pw.chromium.launch(executable_path=require_chromium(), headless=True, args=args)
        try:
            async with phone(cam, locale="es-ES", permissions=["camera"]) as page:
                watch = Watch(page)
                await page.goto(base_of(sr) + a["card_path"])
                await expect(page.locator("html")).to_have_attribute("lang", "es")
                await live(page)
                await page.locator("#scan-start").click()
                result = page.locator("#scan-result .result")
                await expect(result).to_have_class(re.compile(r"\bok\b"), timeout=15_000)
                # No Spanish name given: the booth's Japanese name (then the English one).
                await expect(result).to_contain_text("ブラジル")
                await expect(page.locator("#camera")).to_be_hidden()  # closed after a scan
                await expect(page.locator(".n-done").first).to_have_text("1")
                await expect(page.locator("#stamped")).to_contain_text("ブラジル")
                await screenshot(page, "rally-es-self-scan")
                assert watch.problems == []
        finally:
            await cam.close()


async def test_without_a_camera_the_page_says_so_and_works_on(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str], browser: Browser
) -> None:
    slug = await rally_event(reg, sr, db, admin)
    a = await attendee(reg, db, slug, "Siti Rahma", "id")
    async with phone(browser, locale="id-ID") as page:  # no camera permission, no device
        watch = Watch(page)
        await page.goto(base_of(sr) + a["card_path"])
        await live(page)
        await page.locator("#scan-start").click()
        result = page.locator("#scan-result .result.bad")
        await expect(result).to_contain_text("Kamera tidak dapat digunakan")
        await expect(page.locator("#camera")).to_be_hidden()
        await expect(page.locator("#scan-start")).to_be_visible()
        # A QR code that is no booth's code is explained without asking the server.
        await page.evaluate("() => TomoniCard.scanned('https://example.org/')")
        await expect(result).to_contain_text("Ini bukan kode stempel")
        await screenshot(page, "rally-id-no-camera")
        assert watch.problems == []


# -- the registration's page links to the card ---------------------------------------------------
async def test_the_registration_page_links_to_the_card_at_fairs_only(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool
) -> None:
    fair = await make_event(reg)
    a = await attendee(reg, db, fair, "Nima Sherpa", "ne")
    page = await reg.get(f"/events/r/{a['id']}/{a['secret']}")
    html = await page.text()
    assert page.status == 200 and '<html lang="ne">' in html
    link = re.search(rf'<a [^>]*href="{re.escape(a["card_path"])}"[^>]*>(.*?)</a>', html, re.S)
    assert link is not None and link.group(1).strip()

    slug = new_slug("seminar")
    start = datetime.now(UTC) + timedelta(days=5)
    await registration.save_event(
        rt(reg),
        EventDraft(
            slug=slug,
            kind="seminar",
            title={"ja": "防災セミナー", "en": "Disaster seminar"},
            venue={"ja": "市民ホール", "en": "Civic Hall"},
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            categories=(Category(code="visitor", title={"ja": "参加者"}, capacity=10),),
        ),
    )
    b = await attendee(reg, db, slug, "Nima Sherpa", "ne")
    html = await (await reg.get(f"/events/r/{b['id']}/{b['secret']}")).text()
    assert "/rally/cards/" not in html


async def test_an_organizer_sets_up_the_rally_in_the_console_form(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str], browser: Browser
) -> None:
    """The console's form in Chromium: a mistake comes back named at its field with what
    was typed kept; the corrected form saves the rally, and an attendee's card shows it."""
    slug = await make_event(reg)
    await known(db, "SELECT true FROM stamprally.events WHERE slug = $1", slug)
    base = base_of(sr)
    context = await browser.new_context(locale="ja-JP")
    await context.add_cookies(
        [{"name": "tomoni_session", "value": admin["Authorization"][7:], "url": base}]
    )
    # The console's stylesheet is registration's: served from there, as the proxy would.
    console_static = base_of(reg) + "/console/static/"
    await context.route(
        f"{base}/console/static/**",
        lambda route: route.continue_(url=console_static + route.request.url.split("/")[-1]),
    )
    page = await context.new_page()
    try:
        watch = Watch(page)
        await page.goto(f"{base}/console/rally/{slug}")
        await expect(page.locator("html")).to_have_attribute("lang", "ja")
        await page.fill("#f-title-ja", "世界一周スタンプラリー")
        await page.fill("#f-min_stamps", "1")
        await page.fill("#f-booths-0-code", "vietnam")
        await page.fill("#f-booths-0-name-ja", "ベトナム")
        await page.fill("#f-booths-0-description-ja", "フォーがあります。")
        await page.fill("#f-booths-1-code", "Info!")  # not a code
        await page.select_option("#f-booths-1-kind", "info")
        await page.fill("#f-booths-1-name-ja", "案内所")
        await page.check("#f-booths-1-required")
        await page.fill("#f-prizes-0-code", "bag")
        await page.fill("#f-prizes-0-name-ja", "エコバッグ")
        await page.fill("#f-prizes-0-stock", "10")
        await page.click("button[type=submit]")

        await expect(page.locator(".error-summary")).to_be_visible()
        code = page.locator("#f-booths-1-code")
        await expect(code).to_have_attribute("aria-invalid", "true")
        await expect(code).to_have_value("Info!")
        await expect(page.locator("#f-booths-0-description-ja")).to_have_value("フォーがあります。")
        await expect(page.locator("#f-booths-1-kind")).to_have_value("info")
        await expect(page.locator("#f-booths-1-required")).to_be_checked()
        assert (await sr.get(f"{SR}/events/{slug}/rally")).status == 404
        await screenshot(page, "rally-console-error")

        await code.fill("info")
        await page.click("button[type=submit]")
        await expect(page.locator("p.notice[role=status]")).to_be_visible()
        await expect(page.locator("#f-booths-1-code")).to_have_value("info")
        assert watch.problems == []
        await screenshot(page, "rally-console-saved")
    finally:
        await context.close()

    rally = await (await sr.get(f"{SR}/events/{slug}/rally")).json()
    assert [b["code"] for b in rally["booths"]] == ["vietnam", "info"]
    assert rally["required_booths"] == ["info"] and rally["prizes"][0]["stock"] == 10
    a = await attendee(reg, db, slug, "Nguyen Van An", "vi")
    async with phone(browser, locale="vi-VN") as card:
        await card.goto(base + a["card_path"])
        await expect(card.locator("#needed")).to_contain_text("案内所")
        await expect(card.locator("#others .booth-about")).to_have_text("フォーがあります。")
