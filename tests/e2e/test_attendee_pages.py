"""The attendee pages in a real browser on a phone: registering in Japanese (with
furigana) and in Vietnamese, fixing a mistake, the ticket, cancelling, the remembered
language, and a form sent twice that registers once.

Screenshots of what the attendee sees are saved in ``tests/artifacts/attendee-*.png``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from services.registration import service
from services.registration.domain import Category, Choice, EventDraft, FormField
from shared.i18n import LANGUAGES
from tests.e2e.browser import (
    chromium,
    has_horizontal_overflow,
    phone,
    screenshot,
    small_touch_targets,
)
from tests.integration.regfixtures import new_slug, rt, running_registration

TICKET_PATH = re.compile(r"/events/r/[0-9a-f-]{36}/[^/?#]+$")


@pytest.fixture(scope="module")
async def client(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("pages")):
        yield c


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture
def base(client: TestClient) -> str:
    return str(client.make_url("/")).rstrip("/")


def _t(ja: str, en: str, vi: str) -> dict[str, str]:
    return {"ja": ja, "en": en, "vi": vi}


async def make_fair(client: TestClient) -> str:
    """An event whose form has a choice field and a required text field."""
    slug = new_slug("fair")
    start = datetime.now(UTC) + timedelta(days=30)
    interpreter = FormField(
        key="interpreter",
        type="choice",
        label=_t("通訳", "Interpreter", "Phiên dịch"),
        required=True,
        choices=(
            Choice("none", _t("いりません", "Not needed", "Không cần")),
            Choice("vi", _t("ベトナム語", "Vietnamese", "Tiếng Việt")),
            Choice("en", _t("英語", "English", "Tiếng Anh")),
        ),
    )
    country = FormField(
        key="country",
        type="text",
        label=_t("出身の国・地域", "Country or region of origin", "Quốc gia hoặc vùng"),
        required=True,
        max_length=60,
    )
    draft = EventDraft(
        slug=slug,
        kind="fair",
        title=_t("多文化ふれあいフェスタ", "Multicultural Fair", "Lễ hội giao lưu đa văn hóa"),
        description=_t(
            "世界の料理とダンスを楽しみましょう。\nスタンプラリーもあります。",
            "Food and dance from around the world.\nThere is a stamp rally too.",
            "Ẩm thực và điệu múa từ khắp thế giới.\nCó cả trò chơi đóng dấu.",
        ),
        venue=_t("キュポ・ラ広場", "Cupo-la Plaza", "Quảng trường Cupo-la"),
        venue_map_url="https://maps.example.org/?q=cupola",
        starts_at=start,
        ends_at=start + timedelta(hours=6),
        categories=(
            Category(
                code="visitor",
                title=_t("来場者", "Visitor", "Khách tham quan"),
                capacity=50,
                max_party_size=3,
                fields=(interpreter, country),
            ),
        ),
    )
    await service.save_event(rt(client), draft)
    return slug


async def count(db: asyncpg.Pool, slug: str, email: str) -> int:
    n: int = await db.fetchval(
        "SELECT count(*) FROM registration.registrations WHERE event_slug = $1 AND email = $2",
        slug,
        email,
    )
    return n


def watch_csp(page: Page) -> list[str]:
    """What the Content Security Policy blocked on the page (reported on the console)."""
    blocked: list[str] = []

    def seen(text: str) -> None:
        if "Content Security Policy" in text or "Refused to" in text:
            blocked.append(text)

    page.on("console", lambda m: seen(m.text))
    return blocked


async def fill_form(page: Page, *, name: str, email: str, country: str) -> None:
    await page.locator("#f-name").fill(name)
    await page.locator("#f-email").fill(email)
    await page.locator("#f-answers-interpreter-1").check()
    await page.locator("#f-answers-country").fill(country)


async def test_japanese_attendee_fixes_a_mistake_registers_and_cancels(
    client: TestClient, browser: Browser, base: str, db: asyncpg.Pool
) -> None:
    slug = await make_fair(client)
    async with phone(browser, locale="ja-JP") as page:
        console = watch_csp(page)
        await page.goto(f"{base}/events/{slug}?lang=ja")
        await expect(page.locator("html")).to_have_attribute("lang", "ja")
        await expect(page.locator("h1")).to_have_text("多文化ふれあいフェスタ")
        assert await page.locator("ruby").count() > 3  # furigana on the page's own words
        await expect(page.get_by_role("link", name=re.compile("地図"))).to_be_visible()
        assert await small_touch_targets(page) == []
        await screenshot(page, "attendee-ja-event")

        await page.locator("a.button.primary").first.click()
        await expect(page).to_have_url(re.compile(f"/events/{slug}/register/visitor[?]form="))
        await expect(page.locator("#f-name_kana")).to_be_visible()  # shown for Japanese
        await fill_form(page, name="川口 花子", email="hanako-at-example.org", country="日本")
        await page.locator("#f-name_kana").fill("カワグチ ハナコ")
        await page.locator("button[type=submit]").click()

        summary = page.locator(".error-summary[role=alert]")
        await expect(summary).to_be_visible()
        await expect(summary).to_contain_text("メールアドレスを")
        assert await summary.locator("ruby").count() >= 1
        email = page.locator("#f-email")
        await expect(email).to_have_attribute("aria-invalid", "true")
        await expect(email).to_have_attribute("aria-describedby", re.compile("f-email-error"))
        await expect(page.locator("#f-email-error")).to_contain_text("正")
        await expect(page.locator("#f-name")).to_have_value("川口 花子")  # nothing lost
        await expect(page.locator("#f-answers-interpreter-1")).to_be_checked()
        await expect(summary.locator("a")).to_have_attribute("href", "#f-email")
        assert not await has_horizontal_overflow(page)
        assert await small_touch_targets(page) == []
        await screenshot(page, "attendee-ja-form-error")

        await email.fill("hanako@example.org")
        await page.locator("button[type=submit]").click()
        await expect(page).to_have_url(TICKET_PATH)
        await expect(page.locator("#status-title")).to_contain_text("できました")
        qr = page.locator(".qr-box svg.qr")
        await expect(qr).to_be_visible()
        box = await qr.bounding_box()
        assert box is not None and box["width"] >= 300  # big enough for a gate scanner
        await expect(page.get_by_role("link", name=re.compile("PNG"))).to_be_visible()
        assert not await has_horizontal_overflow(page)
        assert await small_touch_targets(page) == []
        await screenshot(page, "attendee-ja-ticket")
        ticket_url = page.url

        await page.locator('a[href$="/cancel"]').click()
        await expect(page.locator("h1")).to_contain_text("キャンセルしますか")
        await screenshot(page, "attendee-ja-cancel-confirm")
        await page.locator("form button[type=submit]").click()
        await expect(page).to_have_url(ticket_url)
        await expect(page.locator("#status-title")).to_contain_text("キャンセルされました")
        await expect(page.locator("svg.qr")).to_have_count(0)
        await screenshot(page, "attendee-ja-cancelled")
        assert console == []
    status = await db.fetchval(
        "SELECT status FROM registration.registrations WHERE event_slug = $1", slug
    )
    assert status == "cancelled"


async def test_vietnamese_attendee_registers_and_the_language_is_remembered(
    client: TestClient, browser: Browser, base: str
) -> None:
    slug = await make_fair(client)
    async with phone(browser, locale="ja-JP") as page:  # the phone itself asks for Japanese
        await page.goto(f"{base}/events/{slug}/register/visitor?lang=vi")
        await expect(page.locator("html")).to_have_attribute("lang", "vi")
        await expect(page.locator("h1")).to_have_text("Mẫu đăng ký")
        await expect(page.locator("#f-name_kana")).to_have_count(0)
        await expect(page.locator("#f-language")).to_have_value("vi")
        assert not await has_horizontal_overflow(page)
        await screenshot(page, "attendee-vi-form")

        await fill_form(page, name="Tran Thi Lan", email="lan@example.org", country="Việt Nam")
        await page.locator("#f-party_size").select_option("2")
        await page.locator("button[type=submit]").click()
        await expect(page).to_have_url(TICKET_PATH)
        await expect(page.locator("#status-title")).to_have_text("Bạn đã đăng ký thành công.")
        await expect(page.locator(".ticket-for")).to_contain_text("Lễ hội giao lưu đa văn hóa")
        await expect(page.locator(".ticket-for")).to_contain_text("2 người")
        await expect(page.locator("svg.qr")).to_be_visible()
        await screenshot(page, "attendee-vi-ticket")
        ticket_url = page.url

        await page.locator("details.change summary").click()
        await page.locator("#f-phone").fill("12")
        await page.locator("details.change button[type=submit]").click()
        await expect(page.locator(".error-summary")).to_contain_text("Vui lòng nhập đúng số")
        await expect(page.locator("#f-phone")).to_have_attribute("aria-invalid", "true")
        await screenshot(page, "attendee-vi-change-error")
        await page.locator("#f-phone").fill("090-1234-5678")
        await page.locator("details.change button[type=submit]").click()
        await expect(page).to_have_url(f"{ticket_url}?saved=1")
        await expect(page.locator(".notice.ok")).to_have_text("Đã lưu thay đổi.")
        await expect(page.get_by_text("+819012345678")).to_be_visible()
        await expect(page.locator("svg.qr")).to_be_visible()

        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["tomoni_lang"]["value"] == "vi"
        assert cookies["tomoni_lang"]["sameSite"] == "Lax"
        assert cookies["tomoni_lang"]["path"] == "/"
        assert cookies["tomoni_lang"]["expires"] > datetime.now(UTC).timestamp() + 360 * 86400

        await page.goto(f"{base}/events/")  # no ?lang: the cookie wins over Accept-Language
        await expect(page.locator("html")).to_have_attribute("lang", "vi")
        await expect(page.locator("h1")).to_have_text("Sự kiện")
        await expect(page.get_by_text("Lễ hội giao lưu đa văn hóa").first).to_be_visible()
        await screenshot(page, "attendee-vi-events")

        await page.locator("details.langs summary").click()
        japanese = page.get_by_role("link", name="日本語")
        await expect(japanese).to_be_visible()
        box = await japanese.bounding_box()
        assert box is not None and box["height"] >= 44  # a finger-sized target
        assert not await has_horizontal_overflow(page)
        await screenshot(page, "attendee-vi-language-picker")
        await japanese.click()
        await expect(page.locator("html")).to_have_attribute("lang", "ja")
        assert {c["name"]: c["value"] for c in await page.context.cookies()}["tomoni_lang"] == "ja"


async def test_a_form_sent_again_after_going_back_registers_once(
    client: TestClient, browser: Browser, base: str, db: asyncpg.Pool
) -> None:
    slug = await make_fair(client)
    async with phone(browser, locale="en-US") as page:
        await page.goto(f"{base}/events/{slug}/register/visitor")
        await fill_form(page, name="Maria Santos", email="maria@example.org", country="Brazil")
        await page.locator("button[type=submit]").click()
        await expect(page).to_have_url(TICKET_PATH)
        first = page.url

        await page.go_back()
        await expect(page.locator("#f-name")).to_have_value("Maria Santos")
        await page.locator("button[type=submit]").click()
        await expect(page).to_have_url(TICKET_PATH)
        assert page.url == first  # the first answer again
    assert await count(db, slug, "maria@example.org") == 1


async def test_wrong_secret_is_a_localized_404_page(client: TestClient) -> None:
    r = await client.get(f"/events/r/{uuid.uuid4()}/not-the-secret?lang=ja")
    assert r.status == 404
    assert r.content_type == "text/html"
    body = await r.text()
    assert '<html lang="ja">' in body and "<ruby>" in body and "見" in body


async def test_pages_keep_to_the_content_security_policy(client: TestClient) -> None:
    """No inline script or style: the CSP would block them on the attendee's phone."""
    slug = await make_fair(client)
    for path in ("/events/", f"/events/{slug}", f"/events/{slug}/register/visitor"):
        r = await client.get(path, headers={"Accept-Language": "vi"})
        assert r.status == 200, path
        html = await r.text()
        assert " style=" not in html and "<style" not in html, path
        assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html)), path
        assert 'name="viewport"' in html and "maximum-scale" not in html, path
        assert "tomoni_lang" not in r.headers.get("Set-Cookie", "")  # only ?lang= sets it


async def test_ticket_page_may_be_shown_again_from_the_phone_history(
    client: TestClient,
) -> None:
    client.session.cookie_jar.clear()
    slug = await make_fair(client)
    r = await client.post(
        f"/events/{slug}/register/visitor",
        data={
            "name": "Ayu Lestari",
            "email": "ayu@example.org",
            "notify_by": "email",
            "language": "id",
            "answers.interpreter": "none",
            "answers.country": "Indonesia",
        },
        allow_redirects=False,
    )
    assert r.status == 303
    location = r.headers["Location"]
    assert TICKET_PATH.search(location)
    page = await client.get(location)
    assert page.status == 200
    assert page.headers["Cache-Control"] == "private, max-age=0"
    html = await page.text()
    assert '<html lang="id">' in html  # the registration's own language without a cookie
    png = await client.get(f"{location}/ticket.png")
    assert png.status == 200 and png.content_type == "image/png"
    wrong = await client.get(location[:-4] + "xxxx")
    assert wrong.status == 404


async def test_the_city_programme_renders_in_every_language(
    client: TestClient, browser: Browser, base: str
) -> None:
    """The demo events (long titles, many categories, every kind of question) render on
    every page in all twelve languages."""
    await service.seed_demo(rt(client), date.today())
    client.session.cookie_jar.clear()
    slugs = [row["slug"] for row in await rt(client).pool.fetch("SELECT slug FROM events")]
    demo = [s for s in slugs if not s.startswith("fair-")]
    assert len(demo) == 7
    for i, lang in enumerate(LANGUAGES):
        r = await client.get(f"/events/?lang={lang}")
        assert r.status == 200 and f'<html lang="{lang}">' in await r.text(), lang
        for slug in demo:
            event = await service.get_event(rt(client), slug)
            r = await client.get(f"/events/{slug}?lang={lang}")
            assert r.status == 200, (slug, lang)
            code = event.categories[i % len(event.categories)].code
            r = await client.get(f"/events/{slug}/register/{code}?lang={lang}")
            assert r.status == 200, (slug, code, lang)
            assert 'name="idempotency_key"' in await r.text()
    async with phone(browser, locale="ja-JP") as page:
        await page.goto(f"{base}/events/")
        await expect(page.locator("html")).to_have_attribute("lang", "ja")
        assert not await has_horizontal_overflow(page)
        assert await small_touch_targets(page) == []
        await screenshot(page, "attendee-ja-events")
        speech = next(s for s in demo if s.startswith("speech-contest"))
        await page.goto(f"{base}/events/{speech}/register/contestant")
        assert not await has_horizontal_overflow(page)
        assert await small_touch_targets(page) == []
        await screenshot(page, "attendee-ja-contestant-form")


async def test_waiting_list_and_screening_are_explained(client: TestClient) -> None:
    """A full category offers the waiting list and the ticket page gives the place in
    line; a screened one says the organizers decide."""
    client.session.cookie_jar.clear()
    slug = new_slug("small")
    start = datetime.now(UTC) + timedelta(days=10)
    await service.save_event(
        rt(client),
        EventDraft(
            slug=slug,
            kind="seminar",
            title={"ja": "防災訓練", "en": "Disaster drill"},
            venue={"ja": "市民ホール", "en": "Civic Hall"},
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            categories=(
                Category(code="seat", title={"ja": "参加者", "en": "Participant"}, capacity=1),
                Category(
                    code="speaker", title={"ja": "発表者", "en": "Speaker"}, capacity=5, review=True
                ),
            ),
        ),
    )

    async def register(code: str, i: int) -> str:
        r = await client.post(
            f"/events/{slug}/register/{code}?lang=en",
            data={"name": f"Person {i}", "email": f"p{i}@example.org", "language": "en"},
            allow_redirects=False,
        )
        assert r.status == 303, await r.text()
        page = await client.get(r.headers["Location"] + "?lang=en")
        return await page.text()

    assert "You are registered." in await register("seat", 1)
    event = await (await client.get(f"/events/{slug}?lang=en")).text()
    assert "Full. You can join the waiting list." in event and "Join the waiting list" in event
    waiting = await register("seat", 2)
    assert "You are on the waiting list." in waiting
    assert "Your place on the waiting list: 1" in waiting and 'class="qr"' not in waiting
    screened = await register("speaker", 3)
    assert "We are checking your application." in screened and 'class="qr"' not in screened
