"""The scanner app in the stamp rally's two modes, in a real browser on a phone, with
registration, checkin and stamprally on one origin (real PostgreSQL and NATS):

* a booth phone stamps a card (green "1 of 2"), says "already stamped" the second time,
  keeps stamping offline (answers at once, queues, sends each stamp once when the
  network is back) and shows its rotating self-service code as a QR code;
* the prize desk says "not complete" before the card is, gives the prize once it is
  (named in the volunteer's language, else Japanese), never twice, and never offline.

Screenshots are saved in ``tests/artifacts/scanner-rally-*.png``.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from shared.testing import wait_until
from tests.e2e.browser import CHROMIUM_ARGS, chromium, phone, require_chromium, screenshot
from tests.e2e.scanner_support.camera import write_ticket_video
from tests.e2e.scanner_support.page import (
    SYNC_TIMEOUT_MS,
    TIMEOUT_MS,
    Watch,
    dismiss,
    manual_scan,
    offline_ready,
    paired_scanner,
    result_shown,
)
from tests.e2e.scanner_support.stack import CHK, REG, Stack, running_stack

BOOTHS = {"vn": ("ベトナム", "Vietnam"), "np": ("ネパール", "Nepal")}
PRIZES = {"bag": ("エコバッグ", "Eco bag")}


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
async def stack(
    make_settings: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(
        make_settings, database_url, tmp_path_factory.mktemp("reg"), stamprally=True
    ) as s:
        yield s


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def rally_event(stack: Stack) -> str:
    slug = await stack.event(title_ja="多文化ふれあいフェスタ", title_en="Multicultural Fair")
    await stack.rally(slug, BOOTHS, PRIZES, min_stamps=2)
    return slug


async def rally_ticket(stack: Stack, slug: str, name: str, **extra: Any) -> dict[str, Any]:
    ticket = await stack.ticket(slug, name, **extra)
    await stack.rally_knows(ticket_id=ticket["id"])
    return ticket


async def rally_phone(stack: Stack, page: Page, slug: str, place: str, role: str) -> str:
    """Pair the phone as a booth or the prize desk; wait until stamprally knows it."""
    pairing = await paired_scanner(stack, page, slug, place, role)
    await stack.rally_knows(device_id=pairing["device_id"])
    return str(pairing["device_id"])


async def paired_token(stack: Stack, slug: str, place: str, role: str) -> dict[str, str]:
    """A device paired over the API (no phone): its bearer header."""
    made = await stack.pairing(slug, place, role)
    paired = await stack.post(f"{REG}/devices/pair", {"pairing_code": made["pairing_code"]})
    await stack.rally_knows(device_id=made["device_id"])
    return {"Authorization": f"Bearer {paired['device_token']}"}


async def test_booth_stamps_then_prize_desk_gives_the_prize_once_the_card_is_complete(
    stack: Stack, browser: Browser
) -> None:
    slug = await rally_event(stack)
    ticket = await rally_ticket(stack, slug, "Tran Van An")
    qr = ticket["qr_text"]
    async with (
        phone(browser, locale="en-US") as booth,
        phone(browser, locale="vi-VN") as desk,
    ):
        watch_booth, watch_desk = Watch(booth), Watch(desk)
        await rally_phone(stack, booth, slug, "vn", "booth")
        # The volunteer sees the event, the booth and the mode; no ENTRY/EXIT here.
        await expect(booth.locator("#event-title")).to_have_text("Multicultural Fair")
        await expect(booth.locator("#gate")).to_have_text("Booth: Vietnam (vn)")
        await expect(booth.locator("#mode-name")).to_have_text("Stamp rally: stamps")
        await expect(booth.locator("#mode-in")).to_be_hidden()
        await expect(booth.locator("#show-code")).to_be_visible()
        await screenshot(booth, "scanner-rally-booth-ready")

        await manual_scan(booth, qr)
        await result_shown(booth, "stamped")
        await expect(booth.locator("#result-title")).to_have_text("Stamped — 1 of 2")
        await expect(booth.locator("#result-name")).to_have_text("Tran Van An")
        await expect(booth.locator("#result-details")).to_contain_text("Vietnamese")
        await expect(booth.locator("#result-note")).to_be_hidden()
        await screenshot(booth, "scanner-rally-stamped")
        await dismiss(booth)

        await manual_scan(booth, qr)
        await result_shown(booth, "already_stamped")
        await expect(booth.locator("#result-title")).to_have_text("Already stamped here")
        await expect(booth.locator("#result-details")).to_contain_text("1 / 2")
        await screenshot(booth, "scanner-rally-already-stamped")
        await dismiss(booth)

        # Junk is red, with the reason in the volunteer's language.
        await manual_scan(booth, "hello")
        await result_shown(booth, "rejected")
        await expect(booth.locator("#result-title")).to_have_text(
            "This is not a valid Tomoni ticket."
        )
        await dismiss(booth)

        # The prize desk, in Vietnamese: the card is not complete yet.
        await rally_phone(stack, desk, slug, "goal", "prize_desk")
        await expect(desk.locator("#gate")).to_have_text("Bàn nhận quà")
        await expect(desk.locator("#mode-name")).to_have_text("Đóng dấu: trao quà")
        await expect(desk.locator("#show-code")).to_be_hidden()
        await manual_scan(desk, qr)
        await result_shown(desk, "not_completed")
        await expect(desk.locator("#result-title")).to_have_text("Thẻ chưa đủ dấu")
        await screenshot(desk, "scanner-rally-not-completed")
        await dismiss(desk)

        # The second booth completes the card.
        async with phone(browser, locale="en-US") as second:
            await rally_phone(stack, second, slug, "np", "booth")
            await expect(second.locator("#gate")).to_have_text("Booth: Nepal (np)")
            await manual_scan(second, qr)
            await result_shown(second, "stamped")
            await expect(second.locator("#result-title")).to_have_text("Stamped — 2 of 2")
            await expect(second.locator("#result-note")).to_have_text(
                "Card complete! Send them to the goal desk"
            )
            await screenshot(second, "scanner-rally-completed")

        # Now the prize: named in Vietnamese if it can be, else in Japanese.
        await manual_scan(desk, qr)
        await result_shown(desk, "redeemed")
        await expect(desk.locator("#result-title")).to_have_text("Hãy trao: エコバッグ")
        await expect(desk.locator("#result-name")).to_have_text("Tran Van An")
        await screenshot(desk, "scanner-rally-redeemed")
        await dismiss(desk)
        # In English it is the English name ...
        await desk.select_option("#lang", "en")
        await expect(desk.locator("#gate")).to_have_text("Prize desk")
        # ... and a second scan never gives a second prize.
        await manual_scan(desk, qr)
        await result_shown(desk, "already_redeemed")
        await expect(desk.locator("#result-title")).to_have_text("Prize already given")
        await expect(desk.locator("#result-details")).to_contain_text("Eco bag")
        await screenshot(desk, "scanner-rally-already-redeemed")
        await dismiss(desk)

        assert watch_booth.problems == [] and watch_desk.problems == []

    tid = uuid.UUID(ticket["id"])
    stamps = await stack.db.fetch(
        "SELECT booth FROM stamprally.stamps WHERE ticket_id = $1 ORDER BY booth", tid
    )
    assert [r["booth"] for r in stamps] == ["np", "vn"]
    card = await stack.db.fetchrow(
        "SELECT prize, redeemed_at FROM stamprally.cards WHERE ticket_id = $1", tid
    )
    assert card is not None and card["prize"] == "bag" and card["redeemed_at"] is not None
    given = await stack.db.fetchval(
        "SELECT given FROM stamprally.prizes WHERE event = $1 AND code = 'bag'", slug
    )
    assert given == 1


async def test_offline_booth_answers_at_once_and_sends_each_stamp_once(
    stack: Stack, browser: Browser
) -> None:
    slug = await rally_event(stack)
    tickets = [await rally_ticket(stack, slug, f"Nguyen Thi {i}") for i in range(2)]
    async with phone(browser, locale="ja-JP") as booth, phone(browser, locale="ja-JP") as desk:
        watch = Watch(booth)
        device = await rally_phone(stack, booth, slug, "vn", "booth")
        await offline_ready(booth)
        await rally_phone(stack, desk, slug, "goal", "prize_desk")
        await expect(desk.locator("#gate")).to_have_text("プレゼント受付")

        await booth.context.set_offline(True)
        await desk.context.set_offline(True)
        await expect(booth.locator("#net")).to_have_class("net offline")
        seen = len(stack.hits)
        for i, t in enumerate(tickets):
            await manual_scan(booth, t["qr_text"])
            await result_shown(booth, "stamped", provisional=True)
            await expect(booth.locator("#result-title")).to_have_text(
                "スタンプを保存しました：あとで送ります"
            )
            await expect(booth.locator("#result-offline")).to_be_visible()
            if i == 0:
                await screenshot(booth, "scanner-rally-offline-stamped")
            await dismiss(booth)
        # The phone remembers what it stamped: the same card again is amber.
        await manual_scan(booth, tickets[0]["qr_text"])
        await result_shown(booth, "already_stamped", provisional=True)
        await dismiss(booth)
        # A ticket of another event is red on the phone too.
        other = await stack.event()
        stranger = await stack.ticket(other, "Someone Else")
        await manual_scan(booth, stranger["qr_text"])
        await result_shown(booth, "rejected", provisional=True)
        await expect(booth.locator("#result-title")).to_have_text(
            "このチケットは別のイベントのものです。"
        )
        await dismiss(booth)
        await expect(booth.locator("#waiting-count")).to_have_text("4")
        queued = await booth.evaluate(
            "() => Tomoni.store.oldest(100).then((q) => q.map((s) => [s.kind, s.client_scan_id]))"
        )
        assert [kind for kind, _ in queued] == ["stamp"] * 4

        # The prize desk does not guess: it needs the network, and keeps nothing.
        await expect(desk.locator("#net")).to_have_text(
            "オフライン：プレゼントにはインターネットが必要です"
        )
        await manual_scan(desk, tickets[0]["qr_text"])
        await result_shown(desk, "network_needed")
        await expect(desk.locator("#result-title")).to_have_text("インターネットが必要です")
        await screenshot(desk, "scanner-rally-desk-offline")
        await dismiss(desk)
        assert await desk.evaluate("() => Tomoni.store.waiting()") == 0
        sent = [p for p in stack.hits[seen:] if p.startswith("/api/stamprally/")]
        assert sent == [], f"offline phones sent: {sent}"

        await booth.context.set_offline(False)
        await expect(booth.locator("#waiting-count")).to_have_text("0", timeout=SYNC_TIMEOUT_MS)
        assert "/api/stamprally/stamps" in stack.hits[seen:]
        assert watch.problems == []

    answers = await stack.db.fetch(
        "SELECT client_scan_id, result, reason FROM stamprally.scan_answers WHERE device_id = $1",
        uuid.UUID(device),
    )
    by_id = {r["client_scan_id"]: (r["result"], r["reason"]) for r in answers}
    assert set(by_id) == {scan_id for _, scan_id in queued}  # each sent, each once
    expected = [("stamped", None), ("stamped", None), ("already_stamped", None)]
    expected.append(("rejected", "wrong_event"))
    assert sorted(by_id.values(), key=str) == sorted(expected, key=str)
    for t in tickets:
        count = await stack.db.fetchval(
            "SELECT count(*) FROM stamprally.stamps WHERE ticket_id = $1", uuid.UUID(t["id"])
        )
        assert count == 1


async def decoded_qr(page: Page) -> str | None:
    png = await page.locator("#code-qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found[0].text if found else None


async def test_booth_shows_its_rotating_code_as_a_qr_that_decodes_to_the_current_code(
    stack: Stack, browser: Browser
) -> None:
    slug = await rally_event(stack)
    async with phone(browser, locale="en-US") as booth:
        watch = Watch(booth)
        await rally_phone(stack, booth, slug, "vn", "booth")
        await booth.click("#show-code")
        await expect(booth.locator("#booth-code")).to_be_visible()
        await expect(booth.locator("#scanner")).to_be_hidden()
        await expect(booth.locator("#code-booth")).to_have_text("Booth: Vietnam (vn)")
        canvas = booth.locator("#code-qr")
        await expect(canvas).to_be_visible()
        await expect(canvas).to_have_attribute("data-code", re.compile(r"^B1\.vn\."))
        await screenshot(booth, "scanner-rally-booth-code")

        token = await booth.evaluate(
            "() => JSON.parse(localStorage.getItem('tomoni.scan.device')).token"
        )
        headers = {"Authorization": f"Bearer {token}"}
        # What is drawn is what the API gives now (a new code every 30 s: at a turn of
        # the window the two may differ once, so look again).
        for _ in range(3):
            shown = await canvas.get_attribute("data-code")
            drawn = await decoded_qr(booth)
            api = await (
                await stack.client.get("/api/stamprally/booth-code", headers=headers)
            ).json()
            if drawn == shown == api["code"]:
                break
            await booth.wait_for_timeout(1_500)  # the next code's window
        assert drawn == shown == api["code"] and api["booth"] == "vn"
        assert 0 < api["refresh_in"] <= 30

        # A new code is fetched when the answer's refresh_in has passed (30 s at most;
        # made 1 s here so that the test sees it happen).
        async def soon(route: Route) -> None:
            response = await route.fetch()
            body = await response.json()
            await route.fulfill(response=response, json={**body, "refresh_in": 1})

        await booth.route("**/api/stamprally/booth-code", soon)
        asked = stack.hits.count("/api/stamprally/booth-code")
        # (the next fetch is already planned with the real refresh_in: open the screen anew)
        await booth.click("#code-back")
        await booth.click("#show-code")
        await wait_until(
            lambda: stack.hits.count("/api/stamprally/booth-code") >= asked + 3,
            timeout=15,
            message="the booth code fetched again",
        )
        await booth.unroute_all(behavior="wait")  # a fetch in flight finishes first
        await expect(canvas).to_have_attribute("data-code", re.compile(r"^B1\.vn\."))

        await booth.click("#code-back")
        await expect(booth.locator("#booth-code")).to_be_hidden()
        await expect(booth.locator("#scanner")).to_be_visible()
        assert watch.problems == []


async def test_a_booth_camera_filming_a_ticket_stamps_the_card(
    stack: Stack, tmp_path: Path
) -> None:
    slug = await rally_event(stack)
    ticket = await rally_ticket(stack, slug, "Maria Santos", language="tl")
    video = write_ticket_video(ticket["qr_text"], tmp_path / "ticket.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    async with async_playwright() as pw:
        cam_browser = await pw.chromium.launch(
            executable_path=require_chromium(), headless=True, args=args
        )
        try:
            # No camera permission at first: the booth is paired and known to stamprally
            # before the camera sees the ticket.
            async with phone(cam_browser, locale="en-US") as page:
                watch = Watch(page)
                await rally_phone(stack, page, slug, "np", "booth")
                await page.context.grant_permissions(["camera"], origin=stack.base)
                await page.click("#camera-start")
                await result_shown(page, "stamped")
                await expect(page.locator("#result-title")).to_have_text("Stamped — 1 of 2")
                await expect(page.locator("#result-details")).to_contain_text("Tagalog")
                await screenshot(page, "scanner-rally-camera-stamped")
                assert watch.problems == []
        finally:
            await cam_browser.close()
    count = await stack.db.fetchval(
        "SELECT count(*) FROM stamprally.stamps WHERE ticket_id = $1", uuid.UUID(ticket["id"])
    )
    assert count == 1


async def test_booth_and_prize_desk_read_the_scanner_data_but_do_not_scan_at_gates(
    stack: Stack,
) -> None:
    slug = await rally_event(stack)
    client = stack.client
    for place, role in (("vn", "booth"), ("goal", "prize_desk")):
        headers = await paired_token(stack, slug, place, role)
        device = await client.get(f"{CHK}/device", headers=headers)
        assert device.status == 200
        body = await device.json()
        assert (body["role"], body["place"], body["event"]) == (role, place, slug)
        assert (await client.get(f"{CHK}/revoked", headers=headers)).status == 200
        assert (await client.get(f"{CHK}/keys", headers=headers)).status == 200
        event = await client.get("/scan/event.json", headers=headers)
        assert event.status == 200 and (await event.json())["place"] == place
        scan = {"client_scan_id": uuid.uuid4().hex, "qr_text": "hello"}
        assert (await client.post(f"{CHK}/scans", json=scan, headers=headers)).status == 403
        batch = await client.post(f"{CHK}/scans/batch", json={"scans": [scan]}, headers=headers)
        assert batch.status == 403
    # The stamp rally's own routes: a booth cannot give prizes, nor a desk stamp.
    booth = await paired_token(stack, slug, "np", "booth")
    scan = {"client_scan_id": uuid.uuid4().hex, "qr_text": "hello"}
    assert (
        await client.post("/api/stamprally/redemptions", json=scan, headers=booth)
    ).status == 403
