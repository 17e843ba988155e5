"""The organizer console, end to end: a real Chromium drives the pages against a running
registration service (real PostgreSQL and NATS), and plain HTTP checks the session,
CSRF and access rules a browser would hide."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import zxingcpp
from aiohttp.test_utils import TestClient
from PIL import Image
from playwright.async_api import Browser, Page, expect
from yarl import URL

from services.registration import organizers, repository, service
from services.registration.console.web import translator
from services.registration.domain import Category, Choice, FormField
from tests.e2e.browser import chromium, has_horizontal_overflow, phone, screenshot
from tests.integration.regfixtures import ADMIN, make_event, new_slug, rt, running_registration

TOKYO = ZoneInfo("Asia/Tokyo")
INTERPRETER = FormField(
    key="interpreter",
    type="choice",
    label={"ja": "通訳", "en": "Interpreter"},
    choices=(
        Choice("none", {"ja": "不要", "en": "Not needed"}),
        Choice("vi", {"ja": "ベトナム語", "en": "Vietnamese"}),
        Choice("ne", {"ja": "ネパール語", "en": "Nepali"}),
    ),
)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def client(make_settings: Any, tmp_path_factory: Any) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("console")):
        yield c


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[OpenPage]:
    """A fresh laptop or tablet screen per call (no cookies shared between tests). Any
    CSP violation (an inline script or style slipping in) fails the test."""
    violations: list[str] = []
    async with AsyncExitStack() as stack:

        async def make(locale: str = "en-US", width: int = 1280, **options: Any) -> Page:
            page = await stack.enter_async_context(
                phone(
                    browser,
                    locale=locale,
                    viewport={"width": width, "height": 900},
                    device_scale_factor=1,
                    is_mobile=False,
                    has_touch=width < 1024,
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


def base(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def log_in(page: Page, client: TestClient, email: str = ADMIN[0]) -> None:
    await page.goto(f"{base(client)}/console/")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(ADMIN[1])
    await page.get_by_role("button", name="Log in", exact=True).click()
    await expect(page).to_have_url(f"{base(client)}/console/")


async def shot(page: Page, name: str) -> None:
    await screenshot(page, f"console-{name}")


async def apply(
    client: TestClient, slug: str, name: str, category: str = "visitor", **extra: Any
) -> uuid.UUID:
    """A registration as an attendee makes it (no organizer)."""
    extra.setdefault("email", f"{uuid.uuid4().hex[:10]}@example.org")
    extra.setdefault("language", "vi")
    _status, answer = await service.register(
        rt(client),
        slug,
        service.RegistrationRequest(category=category, name=name, **extra),
    )
    return uuid.UUID(answer["id"])


async def status_of(client: TestClient, reg_id: uuid.UUID) -> str:
    reg = await repository.get_registration(rt(client).pool, reg_id)
    assert reg is not None
    return str(reg["status"])


def local(dt: datetime) -> str:
    return dt.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


# -- the browser flows ------------------------------------------------------------------
async def test_organizer_creates_an_event_through_the_form(
    client: TestClient, open_page: OpenPage
) -> None:
    page = await open_page()
    await log_in(page, client)
    await page.get_by_role("link", name="New event").click()
    slug = new_slug("seminar")
    starts = (datetime.now(UTC) + timedelta(days=40)).replace(minute=0, second=0, microsecond=0)
    await page.get_by_label("Address name").fill(slug)
    await page.get_by_label("Kind of event").select_option("seminar")
    await page.locator("#f-title-ja").fill("生活オリエンテーション")
    await page.locator("#f-title-en").fill("Life in Kawaguchi orientation")
    await page.locator("#f-venue-ja").fill("川口市役所 第一本庁舎")
    await page.locator("#f-venue-en").fill("Kawaguchi City Hall")
    await page.get_by_label("Starts").fill(local(starts))
    await page.get_by_label("Ends").fill(local(starts + timedelta(hours=2)))
    await page.locator("#f-cat0-code").fill("general")
    await page.locator("#f-cat0-title_ja").fill("一般")
    await page.locator("#f-cat0-title_en").fill("General")
    await page.locator("#f-cat0-capacity").fill("30")
    await page.locator("#f-cat0-max_party_size").fill("4")
    await page.locator("#f-cat1-code").fill("speaker")
    await page.locator("#f-cat1-title_ja").fill("発表者")
    await page.locator("#f-cat1-title_en").fill("Speaker")
    await page.locator("#f-cat1-capacity").fill("5")
    await page.locator("#f-cat1-review").check()
    await shot(page, "event-form")
    await page.get_by_role("button", name="Create event").click()

    await expect(page).to_have_url(f"{base(client)}/console/events/{slug}?notice=saved")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Life in Kawaguchi orientation")
    await expect(page.get_by_role("status")).to_have_text("The event was saved.")
    event = await repository.load_event(rt(client).pool, slug)
    assert event is not None
    assert event.kind == "seminar" and event.starts_at == starts
    assert [(c.code, c.capacity, c.max_party_size, c.review) for c in event.categories] == [
        ("general", 30, 4, False),
        ("speaker", 5, 1, True),
    ]
    await page.goto(f"{base(client)}/console/")
    await expect(page.get_by_role("link", name="Life in Kawaguchi orientation")).to_be_visible()


async def test_event_form_shows_localized_errors_next_to_the_fields(
    client: TestClient, open_page: OpenPage
) -> None:
    page = await open_page(locale="ja-JP", width=900)
    await page.goto(f"{base(client)}/console/login")
    await page.locator("input[name=email]").fill(ADMIN[0])
    await page.locator("input[name=password]").fill(ADMIN[1])
    await page.locator("form.stack button[type=submit]").click()
    await expect(page).to_have_url(f"{base(client)}/console/")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        translator("ja").gettext("Events")
    )
    await shot(page, "dashboard-ja")
    await page.goto(f"{base(client)}/console/events/new")
    await page.locator("#f-slug").fill("Not A Slug")
    await page.locator("form.stack button[type=submit]").click()

    required = translator("ja").gettext("This field is required.")
    assert required != "This field is required."
    summary = page.locator(".error-summary")
    await expect(summary).to_be_focused()
    await expect(page.locator("#e-title-ja")).to_have_text(required)
    await expect(page.locator("#f-title-ja")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#e-slug")).to_have_text(
        translator("ja").gettext(
            "Use 2–63 lowercase letters, digits and hyphens, starting with a letter or digit."
        )
    )
    await expect(page.locator("#f-slug")).to_have_value("Not A Slug")  # kept for fixing
    await shot(page, "event-form-errors-ja")


async def test_staff_register_a_walk_in_and_print_the_ticket(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(
        client,
        Category(
            code="visitor",
            title={"ja": "来場者", "en": "Visitor"},
            capacity=50,
            max_party_size=4,
            fields=(INTERPRETER,),
        ),
    )
    page = await open_page()
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}/register")
    await page.get_by_role("link", name=re.compile("Visitor")).click()
    await page.get_by_label("Name (required)").fill("Nguyễn Thị Lan")
    await page.get_by_label("Name in kana").fill("グエン ティ ラン")
    await page.get_by_label("Phone number").fill("090-1234-5678")
    await page.get_by_label("Language for messages").select_option("vi")
    await page.get_by_label("Party size (people)").select_option("2")
    await page.get_by_label("Interpreter").select_option("vi")
    await page.get_by_role("button", name="Register", exact=True).click()

    await expect(page).to_have_url(re.compile(r"/console/registrations/[0-9a-f-]+/ticket$"))
    reg_id = uuid.UUID(page.url.rsplit("/", 2)[-2])
    reg = await repository.get_registration(rt(client).pool, reg_id)
    ticket = await repository.active_ticket(rt(client).pool, reg_id)
    assert reg is not None and ticket is not None
    assert reg["status"] == "confirmed" and reg["party_size"] == 2
    assert reg["phone"] == "+819012345678" and reg["email"] is None
    assert reg["answers"] == {"interpreter": "vi"}
    assert reg["created_by"] is not None  # registered by staff

    ticket_box = page.locator("article.ticket")
    await expect(ticket_box).to_have_attribute("lang", "vi")  # printed in her language
    await expect(ticket_box).to_contain_text("Nguyễn Thị Lan")
    await expect(ticket_box).to_contain_text("Multicultural Fair")
    # The printed QR is the signed ticket itself: decode what the browser drew.
    png = await page.locator(".ticket-qr svg").screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [b.text for b in decoded] == [ticket["qr_text"]]

    await page.emulate_media(media="print")
    await expect(page.locator(".site-header")).to_be_hidden()
    await expect(page.get_by_role("button", name="Print")).to_be_hidden()
    await expect(ticket_box).to_be_visible()
    await shot(page, "ticket-print")


async def test_the_console_works_without_javascript(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(client)
    page = await open_page(java_script_enabled=False)
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}/register")
    await page.get_by_role("link", name=re.compile("来場者")).click()
    await page.get_by_role("button", name="Register", exact=True).click()  # empty: refused
    await expect(page.locator("#e-name")).to_have_text("This field is required.")
    await page.get_by_label("Name (required)").fill("Walk-in Visitor")
    await page.get_by_role("button", name="Register", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/ticket$"))
    await expect(page.locator(".ticket-qr svg")).to_be_visible()
    await expect(page.get_by_role("button", name="Print")).to_be_hidden()  # needs a script


async def test_applications_are_approved_and_rejected_from_the_table(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(
        client,
        Category(
            code="contestant", title={"ja": "出場者", "en": "Contestant"}, capacity=10, review=True
        ),
    )
    chosen = await apply(client, slug, "Maria Santos", "contestant", language="tl")
    declined = await apply(client, slug, "Kim Min-jun", "contestant", language="ko")
    page = await open_page()
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}?status=pending_review")
    await expect(page.locator("tbody tr[data-registration]")).to_have_count(2)
    await shot(page, "review")

    await (
        page.locator(f"tr[data-registration='{chosen}']")
        .get_by_role("button", name="Approve")
        .click()
    )
    await expect(page.get_by_role("status")).to_have_text("The application was approved.")
    await expect(page).to_have_url(re.compile(r"status=pending_review"))  # filters kept
    await (
        page.locator(f"tr[data-registration='{declined}']")
        .get_by_role("button", name="Reject")
        .click()
    )
    await expect(page.get_by_role("status")).to_have_text("The application was rejected.")
    assert await status_of(client, chosen) == "confirmed"
    assert await status_of(client, declined) == "rejected"
    await expect(page.locator("tbody tr[data-registration]")).to_have_count(0)


async def test_cancelling_asks_for_confirmation_first(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(client)
    reg_id = await apply(client, slug, "Ana Souza", language="pt")
    page = await open_page()
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}")
    await (
        page.locator(f"tr[data-registration='{reg_id}']").get_by_role("link", name="Cancel").click()
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cancel this registration?")
    assert await status_of(client, reg_id) == "confirmed"  # nothing happened yet
    await page.get_by_role("button", name="Yes, cancel the registration").click()
    await expect(page.get_by_role("status")).to_have_text("The registration was cancelled.")
    assert await status_of(client, reg_id) == "cancelled"


async def test_csv_download_has_a_bom_and_matches_the_api(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(client)
    await apply(client, slug, "山田 花子", language="ja", phone="03-1234-5678")
    await apply(client, slug, "Nguyễn Văn An", language="vi")
    await apply(client, slug, "=HYPERLINK(1)", language="en")  # must not become a formula
    page = await open_page()
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == f"{slug}-registrations.csv"
    path = await download.path()
    data = await asyncio.to_thread(Path(path).read_bytes)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "山田 花子" in text and "Nguyễn Văn An" in text and "'=HYPERLINK(1)" in text

    async with aiohttp.ClientSession() as http:
        login = await http.post(
            f"{base(client)}/api/registration/auth/login",
            json={"email": ADMIN[0], "password": ADMIN[1]},
        )
        token = (await login.json())["token"]
        api = await http.get(
            f"{base(client)}/api/registration/events/{slug}/registrations?format=csv",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert await api.read() == data  # the same columns and rows, byte for byte


async def test_device_pairing_shows_a_code_that_pairs_a_phone(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(client)
    page = await open_page(width=1024)
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}/devices")
    await page.get_by_label("Role").select_option("gate")
    await page.get_by_label("Place").fill("east-gate")
    await page.get_by_label("Label").fill("Tablet 1")
    await page.get_by_role("button", name="Make a pairing code").click()

    code_box = page.locator("[data-pairing-code]")
    await expect(code_box).to_be_visible()
    code = await code_box.get_attribute("data-pairing-code")
    assert code and re.fullmatch(r"[A-Z2-9]{8}", code)
    await expect(code_box).to_have_text(f"{code[:4]}-{code[4:]}")
    await expect(page.locator(".pairing-qr svg")).to_be_visible()
    await shot(page, "pairing")

    async with aiohttp.ClientSession() as http:
        paired = await http.post(
            f"{base(client)}/api/registration/devices/pair", json={"pairing_code": code}
        )
        assert paired.status == 200, await paired.text()
    await page.goto(f"{base(client)}/console/events/{slug}/devices")
    row = page.locator("tr[data-device]", has_text="east-gate")
    await expect(row).to_contain_text("Paired")
    await row.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_role("status")).to_contain_text("The device was revoked.")
    await expect(row).to_contain_text("Revoked")


async def test_announcement_is_posted_for_everyone_registered(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(client)
    page = await open_page()
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}/announce")
    await page.locator("#f-subject-ja").fill("会場変更のお知らせ")
    await page.locator("#f-body-ja").fill("会場が第二会議室に変わりました。")
    await page.locator("#f-subject-en").fill("The venue has changed")
    await page.locator("#f-body-en").fill("We now meet in meeting room 2.")
    await page.get_by_text("Other languages (optional)").click()
    await page.locator("#f-subject-vi").fill("Thay đổi địa điểm")
    await page.locator("#f-body-vi").fill("Địa điểm mới là phòng họp số 2.")
    await page.get_by_role("button", name="Send to everyone registered").click()

    await expect(page.get_by_role("status")).to_have_text("The announcement was sent.")
    await expect(
        page.get_by_role("row", name=re.compile("会場変更のお知らせ|venue"))
    ).to_be_visible()
    rows = await rt(client).pool.fetch(
        "SELECT subject, body FROM announcements WHERE event_slug = $1", slug
    )
    assert [r["subject"] for r in rows] == [
        {"ja": "会場変更のお知らせ", "en": "The venue has changed", "vi": "Thay đổi địa điểm"}
    ]


async def test_event_page_counts_languages_and_interpreter_requests(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(
        client,
        Category(
            code="visitor",
            title={"ja": "参加者", "en": "Participant"},
            capacity=50,
            max_party_size=5,
            fields=(INTERPRETER,),
        ),
    )
    await apply(
        client, slug, "Tran Anh", language="vi", party_size=3, answers={"interpreter": "vi"}
    )
    await apply(client, slug, "Le Binh", language="vi", answers={"interpreter": "vi"})
    await apply(client, slug, "Chandra Rai", language="ne", answers={"interpreter": "ne"})
    cancelled = await apply(
        client, slug, "Dipesh Gurung", language="ne", answers={"interpreter": "ne"}
    )
    await service.cancel(rt(client), cancelled, by="attendee")
    page = await open_page(width=820)  # a tablet held upright
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}")
    languages = page.locator("section[aria-labelledby=h-languages] tbody tr")
    await expect(languages.nth(0)).to_have_text(re.compile(r"Tiếng Việt\s*vi\s*2\s*4"))
    await expect(languages.nth(1)).to_have_text(re.compile(r"नेपाली\s*ne\s*1\s*1"))
    needs = page.locator("section[aria-labelledby=h-interpreters] tbody tr")
    await expect(needs).to_have_count(2)
    await expect(needs.nth(0)).to_have_text(re.compile(r"Participant\s*Vietnamese\s*2\s*4"))
    await expect(needs.nth(1)).to_have_text(re.compile(r"Participant\s*Nepali\s*1\s*1"))
    # Usable on a tablet: nothing needs sideways scrolling, and the row actions are in
    # reach and big enough for a finger.
    assert not await has_horizontal_overflow(page)
    box = await page.get_by_role("link", name="Cancel").first.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 820 and box["height"] >= 44
    await shot(page, "event-tablet")
    await page.get_by_label("Search name, kana, email or phone").fill("chandra")
    await page.get_by_label("Status").select_option("confirmed")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator("tbody tr[data-registration]")).to_have_count(1)


async def test_editing_an_event_keeps_what_the_form_does_not_show(
    client: TestClient, open_page: OpenPage
) -> None:
    slug = await make_event(
        client,
        Category(
            code="visitor",
            title={"ja": "来場者", "en": "Visitor", "vi": "Khách"},
            capacity=50,
            fields=(INTERPRETER,),
        ),
    )
    await apply(client, slug, "Someone")
    page = await open_page()
    await log_in(page, client)
    await page.goto(f"{base(client)}/console/events/{slug}/edit")
    await page.locator("#f-title-en").fill("Multicultural Fair 2026")
    await page.locator("#f-cat0-capacity").fill("80")
    await page.locator("#f-cat0-remove").check()  # it has a registration: refused
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#e-cat0-remove")).to_have_text(
        "This category has registrations, so it cannot be removed."
    )
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_have_text("The event was saved.")
    event = await repository.load_event(rt(client).pool, slug)
    assert event is not None and event.title["en"] == "Multicultural Fair 2026"
    (cat,) = event.categories
    assert cat.capacity == 80 and cat.fields == (INTERPRETER,)
    assert cat.title == {"ja": "来場者", "en": "Visitor", "vi": "Khách"}


# -- HTTP: sessions, CSRF and access ----------------------------------------------------
@asynccontextmanager
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        yield http


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no csrf field on the page"
    return found.group(1)


async def http_login(
    http: aiohttp.ClientSession,
    client: TestClient,
    email: str = ADMIN[0],
    password: str = ADMIN[1],
) -> str:
    """Log in like the form does; return the session's CSRF token."""
    page = await http.get(f"{base(client)}/console/login")
    form = {"email": email, "password": password, "csrf": csrf_in(await page.text())}
    done = await http.post(f"{base(client)}/console/login", data=form, allow_redirects=False)
    assert done.status == 303, await done.text()
    home = await http.get(f"{base(client)}/console/")
    assert home.status == 200
    return csrf_in(await home.text())


async def test_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client: TestClient,
) -> None:
    slug = await make_event(
        client, Category(code="booth", title={"ja": "出店"}, capacity=5, review=True)
    )
    reg_id = await apply(client, slug, "Booth Owner", "booth")
    async with http_session() as http:
        csrf = await http_login(http, client)
        url = f"{base(client)}/console/registrations/{reg_id}/approve"
        for form in ({}, {"csrf": "wrong"}, {"csrf": ""}):
            refused = await http.post(url, data=form, allow_redirects=False)
            assert refused.status == 403
            assert "text/html" in refused.headers["Content-Type"]
        announce = f"{base(client)}/console/events/{slug}/announce"
        body = {"subject.ja": "件名", "body.ja": "本文", "subject.en": "S", "body.en": "B"}
        assert (await http.post(announce, data=body, allow_redirects=False)).status == 403
        assert await status_of(client, reg_id) == "pending_review"
        assert not await rt(client).pool.fetchval(
            "SELECT count(*) FROM announcements WHERE event_slug = $1", slug
        )
        # The same request with the token goes through: the 403 was the token's doing.
        ok = await http.post(url, data={"csrf": csrf}, allow_redirects=False)
        assert ok.status == 303
        assert await status_of(client, reg_id) == "confirmed"


async def test_a_console_page_without_a_session_redirects_to_login(client: TestClient) -> None:
    async with http_session() as http:
        got = await http.get(
            f"{base(client)}/console/events/some-event?status=confirmed", allow_redirects=False
        )
        assert got.status == 303
        location = URL(got.headers["Location"])
        assert location.path == "/console/login" and not location.host
        assert location.query["next"] == "/console/events/some-event?status=confirmed"
        posted = await http.post(
            f"{base(client)}/console/events/some-event/announce", allow_redirects=False
        )
        assert posted.status == 303
        assert posted.headers["Location"].startswith("/console/login")


@pytest.mark.parametrize(
    ("next_", "lands"),
    [
        ("/console/events/x?status=confirmed", "/console/events/x?status=confirmed"),
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console\\@evil.example", "/console/"),
        ("/consolex", "/console/"),
        ("/api/registration/events", "/console/"),
    ],
)
async def test_login_returns_only_to_console_pages(
    client: TestClient, next_: str, lands: str
) -> None:
    async with http_session() as http:
        page = await http.get(f"{base(client)}/console/login", params={"next": next_})
        html = await page.text()
        form = {"email": ADMIN[0], "password": ADMIN[1], "csrf": csrf_in(html), "next": next_}
        done = await http.post(f"{base(client)}/console/login", data=form, allow_redirects=False)
        assert done.status == 303 and done.headers["Location"] == lands


async def test_an_organizer_of_one_event_is_refused_another(client: TestClient) -> None:
    mine = await make_event(client)
    other = await make_event(client)
    reg_id = await apply(client, other, "Not Yours")
    email = f"org-{uuid.uuid4().hex[:8]}@tomoni.test"
    await organizers.create(rt(client), email, ADMIN[1], [mine])
    async with http_session() as http:
        csrf = await http_login(http, client, email)
        home = await (await http.get(f"{base(client)}/console/")).text()
        assert f"/console/events/{mine}" in home and f"/console/events/{other}" not in home
        assert (await http.get(f"{base(client)}/console/events/{mine}")).status == 200
        for path in ("", "/register", "/devices", "/announce", "/edit", "/registrations.csv"):
            got = await http.get(f"{base(client)}/console/events/{other}{path}")
            assert got.status == 403, path
        for path in ("ticket", "cancel"):
            got = await http.get(f"{base(client)}/console/registrations/{reg_id}/{path}")
            assert got.status == 403, path
        cancel = await http.post(
            f"{base(client)}/console/registrations/{reg_id}/cancel",
            data={"csrf": csrf},
            allow_redirects=False,
        )
        assert cancel.status == 403
        pair = await http.post(
            f"{base(client)}/console/events/{other}/devices",
            data={"csrf": csrf, "role": "gate", "place": "north"},
        )
        assert pair.status == 403
    assert await status_of(client, reg_id) == "confirmed"
    assert not await rt(client).pool.fetchval(
        "SELECT count(*) FROM devices WHERE event_slug = $1", other
    )


async def test_session_cookie_is_httponly_strict_and_only_for_the_console(
    client: TestClient,
) -> None:
    for headers, secure in (({}, False), ({"X-Forwarded-Proto": "https"}, True)):
        async with http_session() as http:
            page = await http.get(f"{base(client)}/console/login", headers=headers)
            form = {"email": ADMIN[0], "password": ADMIN[1], "csrf": csrf_in(await page.text())}
            # Behind the city's TLS proxy the browser would send the (Secure) login
            # cookie; this plain-http client has to be handed it.
            login_cookie = {"tomoni_login_csrf": page.cookies["tomoni_login_csrf"].value}
            done = await http.post(
                f"{base(client)}/console/login",
                data=form,
                headers=headers,
                cookies=login_cookie,
                allow_redirects=False,
            )
            assert done.status == 303
            cookie = next(
                c for c in done.headers.getall("Set-Cookie") if c.startswith("tomoni_session=")
            )
            attrs = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")[1:]}
            assert "httponly" in attrs
            assert attrs["samesite"].strip() == "SameSite=Strict"
            assert attrs["path"].strip() == "Path=/console"
            assert attrs["max-age"].strip() == "Max-Age=43200"  # 12 hours
            assert ("secure" in attrs) is secure


async def test_failed_login_says_the_same_for_unknown_email_and_wrong_password(
    client: TestClient,
) -> None:
    answers = []
    for email, password in ((ADMIN[0], "wrong password"), ("nobody@tomoni.test", ADMIN[1])):
        async with http_session() as http:
            page = await http.get(
                f"{base(client)}/console/login", headers={"Accept-Language": "ja"}
            )
            form = {"email": email, "password": password, "csrf": csrf_in(await page.text())}
            got = await http.post(
                f"{base(client)}/console/login", data=form, headers={"Accept-Language": "ja"}
            )
            assert got.status == 401
            assert not any(c.key == "tomoni_session" for c in http.cookie_jar)
            html = await got.text()
            found = re.search(r'role="alert" id="login-error">([^<]+)<', html)
            assert found
            answers.append(found.group(1))
    assert answers[0] == answers[1]
    assert answers[0] == translator("ja").gettext("The email address or password is not correct.")


async def test_login_without_the_form_token_is_refused(client: TestClient) -> None:
    """A page on another site cannot log the organizer into an account of its own."""
    async with http_session() as http:
        form = {"email": ADMIN[0], "password": ADMIN[1], "csrf": "guessed"}
        got = await http.post(f"{base(client)}/console/login", data=form, allow_redirects=False)
        assert got.status == 403
        assert not any(c.key == "tomoni_session" for c in http.cookie_jar)


async def test_logging_out_ends_the_session(client: TestClient) -> None:
    async with http_session() as http:
        csrf = await http_login(http, client)
        token = next(c.value for c in http.cookie_jar if c.key == "tomoni_session")
        out = await http.post(
            f"{base(client)}/console/logout", data={"csrf": csrf}, allow_redirects=False
        )
        assert out.status == 303 and out.headers["Location"] == "/console/login"
    async with http_session() as http:
        http.cookie_jar.update_cookies({"tomoni_session": token}, client.make_url("/console/"))
        again = await http.get(f"{base(client)}/console/", allow_redirects=False)
        assert again.status == 303  # the old cookie no longer opens anything


async def test_console_pages_are_not_cached_and_speak_the_chosen_language(
    client: TestClient,
) -> None:
    async with http_session() as http:
        await http_login(http, client)
        home = await http.get(f"{base(client)}/console/", headers={"Accept-Language": "en"})
        assert home.headers["Cache-Control"] == "no-store"
        assert "<h1>Events</h1>" in await home.text()
        switched = await http.get(
            f"{base(client)}/console/language",
            params={"lang": "ko", "next": "/console/"},
            allow_redirects=False,
        )
        assert switched.status == 303 and switched.headers["Location"] == "/console/"
        home = await http.get(f"{base(client)}/console/", headers={"Accept-Language": "en"})
        assert f"<h1>{translator('ko').gettext('Events')}</h1>" in await home.text()
        assert '<html lang="ko">' in await home.text()
