"""The volunteer scanner app in a real browser on a phone: pairing from the organizer's
link, manual scans (green, amber, red), a gate that loses its network (answers at once,
queues, survives a reload, syncs once), and a camera that films a ticket.

Registration and checkin run on one origin, as ``tomoni up`` serves them. Screenshots of
what the volunteer sees are saved in ``tests/artifacts/scanner-*.png``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Route, async_playwright, expect

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
from tests.e2e.scanner_support.stack import Stack, running_stack


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """``expect`` waits up to 5 s by default; give this module's pages more on a busy
    machine, and put the default back for other modules."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
async def stack(
    make_settings: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(make_settings, database_url, tmp_path_factory.mktemp("reg")) as s:
        yield s


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def test_pairing_link_then_manual_scans_are_green_amber_and_red(
    stack: Stack, browser: Browser
) -> None:
    slug = await stack.event(title_ja="多文化ふれあいフェスタ", title_en="Multicultural Fair")
    ticket = await stack.ticket(slug, "Tran Van An", party_size=3)
    async with phone(browser, locale="ja-JP") as page:
        page.set_default_timeout(TIMEOUT_MS)
        watch = Watch(page)
        # A phone that was never paired is sent to pairing; a wrong code is explained.
        await page.goto(f"{stack.base}/scan/")
        await expect(page.locator("#unpaired")).to_be_visible()
        await page.goto(f"{stack.base}/scan/pair")
        await page.fill("#pair-code", "ZZZZ-ZZZZ")
        await page.click("#pair-submit")
        await expect(page.locator("#pair-status")).to_have_text(
            "このコードはありません。もう一度見てください。"
        )
        await screenshot(page, "scanner-pair-ja")

        await paired_scanner(stack, page, slug, "east")
        # The volunteer sees the event and the gate, in the phone's language at first.
        await expect(page.locator("#event-title")).to_have_text("多文化ふれあいフェスタ")
        await expect(page.locator("#gate")).to_have_text("入口：east")
        await expect(page.locator("#mode-name")).to_have_text("入口の受付")
        await expect(page.locator("#show-code")).to_be_hidden()
        await expect(page.locator("#mode-in")).to_have_attribute("aria-pressed", "true")
        await screenshot(page, "scanner-ready-ja")

        # They pick their own language; it is kept on this phone across a reload.
        await page.select_option("#lang", "en")
        await expect(page.locator("#gate")).to_have_text("Gate: east")
        await page.reload()
        await expect(page.locator("#mode-in")).to_have_text("ENTRY")
        await expect(page.locator("#event-title")).to_have_text("Multicultural Fair")

        await manual_scan(page, ticket["qr_text"])
        await result_shown(page, "admitted")
        await expect(page.locator("#result-name")).to_have_text("Tran Van An")
        details = page.locator("#result-details")
        await expect(details).to_contain_text("3")
        await expect(details).to_contain_text("Visitor")
        await expect(details).to_contain_text("Vietnamese (Tiếng Việt)")
        await screenshot(page, "scanner-green")
        await dismiss(page)

        await manual_scan(page, ticket["qr_text"])
        await result_shown(page, "already_admitted")
        await expect(page.locator("#result-title")).to_have_text("Already admitted.")
        await expect(details).to_contain_text("east")
        await expect(details).to_contain_text("First entry")
        await screenshot(page, "scanner-amber")
        await dismiss(page)

        # Junk never breaks the page: it is red, and the next scan works.
        await manual_scan(page, "hello")
        await result_shown(page, "rejected")
        await expect(page.locator("#result-title")).to_have_text(
            "This is not a valid Tomoni ticket."
        )
        await screenshot(page, "scanner-red")
        await dismiss(page)
        await manual_scan(page, "")
        await result_shown(page, "rejected")
        await dismiss(page)
        answers = await page.evaluate(
            """async () => {
                const ctx = {keys: JSON.parse(localStorage.getItem('tomoni.scan.keys')),
                             event: 'x', revoked: new Set(), direction: 'in'};
                const junk = ['hello', '', 'T1.' + 'A'.repeat(10000), 'x'.repeat(10000),
                              'T1.', 'T1.!!!!', '\\u0000\\ud800', null, 42, {}];
                const out = [];
                for (const j of junk) out.push((await Tomoni.ticket.check(j, ctx)).result);
                return out;
            }"""
        )
        assert answers == ["rejected"] * 10

        # The phone's own check (what it answers offline) follows docs/tickets.md.
        qr = ticket["qr_text"]
        i = len(qr) - 20  # a character inside the signature
        forged = qr[:i] + ("A" if qr[i] != "A" else "B") + qr[i + 1 :]
        checks = await page.evaluate(
            """async ([good, forged, event, id]) => {
                const keys = JSON.parse(localStorage.getItem('tomoni.scan.keys'));
                const c = (text, extra) => Tomoni.ticket.check(text, Object.assign(
                    {keys, event, revoked: new Set(), direction: 'out'}, extra))
                    .then((r) => r.reason || r.result);
                return [Tomoni.ticket.parse(good).ticketId, await c(good), await c(forged),
                        await c(good, {event: 'another-event'}),
                        await c(good, {revoked: new Set([id])}), await c(good, {keys: []})];
            }""",
            [qr, forged, slug, ticket["id"]],
        )
        assert checks == [
            ticket["id"],
            "exited",
            "invalid_signature",
            "wrong_event",
            "cancelled",
            "invalid_signature",
        ]
        await manual_scan(page, "x" * 10_000)
        await result_shown(page, "rejected")
        await dismiss(page)

        # Exit mode, on a slow network: the phone answers at once ("checked offline"),
        # then the server's answer replaces it while it is still on screen.
        async def slow(route: Route) -> None:
            await asyncio.sleep(1.5)  # the network's delay, not a wait for the page
            await route.continue_()

        await page.route("**/api/checkin/scans", slow)
        await page.click("#mode-out")
        await expect(page.locator("body")).to_have_class(re.compile(r"\bmode-out\b"))
        await manual_scan(page, ticket["qr_text"])
        await result_shown(page, "exited", provisional=True)
        await result_shown(page, "exited", provisional=False)
        await page.unroute("**/api/checkin/scans")
        await dismiss(page)
        await expect(page.locator("#waiting-count")).to_have_text("0")

        assert watch.problems == []

    rows = await stack.db.fetch(
        "SELECT result FROM checkin.scans WHERE ticket_id = $1 ORDER BY received_at",
        uuid.UUID(ticket["id"]),
    )
    assert [r["result"] for r in rows] == ["admitted", "already_admitted", "exited"]


async def test_offline_gate_answers_at_once_survives_a_reload_and_syncs_each_scan_once(
    stack: Stack, browser: Browser
) -> None:
    slug = await stack.event()
    tickets = [await stack.ticket(slug, f"Nguyen Thi {i}") for i in range(3)]
    async with phone(browser, locale="vi-VN") as page:
        context = page.context
        watch = Watch(page)
        pairing = await paired_scanner(stack, page, slug, "north")
        await offline_ready(page)

        await context.set_offline(True)
        await expect(page.locator("#net")).to_have_class("net offline")
        for i, t in enumerate(tickets):
            await manual_scan(page, t["qr_text"])
            await result_shown(page, "admitted", provisional=True)
            await expect(page.locator("#result-offline")).to_be_visible()
            if i == 0:
                await screenshot(page, "scanner-offline-green")
            await dismiss(page)
        await expect(page.locator("#waiting-count")).to_have_text("3")
        await screenshot(page, "scanner-offline-queue")

        # Still offline: the app loads from the service worker and the queue is intact.
        seen = len(stack.hits)
        await page.reload()
        await expect(page.locator("#scanner")).to_be_visible()
        await expect(page.locator("#net")).to_have_class("net offline")
        await expect(page.locator("#waiting-count")).to_have_text("3")
        queued = await page.evaluate(
            """() => Tomoni.store.oldest(100).then(
                   (q) => q.map((s) => ({id: s.client_scan_id, qr: s.qr_text})))"""
        )
        ids = {q["qr"]: q["id"] for q in queued}
        assert set(ids) == {t["qr_text"] for t in tickets}
        # (Chromium's offline emulation does not cover every service-worker fetch of a
        # static file, so only what matters is checked: no scan left the phone.)
        sent = [p for p in stack.hits[seen:] if p.startswith("/api/checkin/scans")]
        assert sent == [], f"an offline phone sent scans: {sent}"

        # The phone remembers whom it let in: a second offline scan is amber.
        await manual_scan(page, tickets[0]["qr_text"])
        await result_shown(page, "already_admitted", provisional=True)
        await expect(page.locator("#result-details")).to_contain_text("north")
        await screenshot(page, "scanner-offline-amber")
        await dismiss(page)
        await expect(page.locator("#waiting-count")).to_have_text("4")

        await context.set_offline(False)
        await expect(page.locator("#waiting-count")).to_have_text("0", timeout=SYNC_TIMEOUT_MS)
        await expect(page.locator("#net")).to_have_class("net online")
        assert "/api/checkin/scans/batch" in stack.hits[seen:]
        assert watch.problems == []

    device = uuid.UUID(pairing["device_id"])
    for t in tickets:
        rows = await stack.db.fetch(
            "SELECT client_scan_id, result FROM checkin.scans WHERE device_id = $1"
            " AND ticket_id = $2 AND result = 'admitted'",
            device,
            uuid.UUID(t["id"]),
        )
        assert [(r["client_scan_id"], r["result"]) for r in rows] == [
            (ids[t["qr_text"]], "admitted")
        ]
    total = await stack.db.fetchval(
        "SELECT count(*) FROM checkin.scans WHERE device_id = $1", device
    )
    assert total == 4  # three admissions and the offline second scan, each once


async def test_fake_camera_filming_a_ticket_shows_green(stack: Stack, tmp_path: Path) -> None:
    slug = await stack.event()
    ticket = await stack.ticket(slug, "Maria Santos", language="tl", party_size=2)
    video = write_ticket_video(ticket["qr_text"], tmp_path / "ticket.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    async with async_playwright() as pw:
        cam_browser = await pw.chromium.launch(
            executable_path=require_chromium(), headless=True, args=args
        )
        try:
            async with phone(cam_browser, locale="ja-JP", permissions=["camera"]) as page:
                watch = Watch(page)
                await paired_scanner(stack, page, slug, "south")
                await expect(page.locator("body")).to_have_class(re.compile(r"\bcamera-on\b"))
                await result_shown(page, "admitted")
                await expect(page.locator("#result-name")).to_have_text("Maria Santos")
                await expect(page.locator("#result-details")).to_contain_text("Tagalog")
                await screenshot(page, "scanner-camera-green")
                # The ticket stays in front of the camera: seen again and again, one scan.
                await dismiss(page)
                await page.wait_for_function("() => Tomoni.camera.stats.repeats >= 10")
                await expect(page.locator("#result")).to_be_hidden()
                await screenshot(page, "scanner-camera-view")
                assert watch.problems == []
        finally:
            await cam_browser.close()
    count = await stack.db.fetchval(
        "SELECT count(*) FROM checkin.scans WHERE ticket_id = $1", uuid.UUID(ticket["id"])
    )
    assert count == 1


async def test_the_app_shell_strings_and_worker_are_served_for_offline_use(stack: Stack) -> None:
    client = stack.client
    moved = await client.get("/scan", allow_redirects=False)
    assert (moved.status, moved.headers["Location"]) == (301, "/scan/")
    page = await client.get("/scan/", headers={"Accept-Language": "vi"})
    assert page.status == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = await page.text()
    assert 'lang="vi"' in html and "<script>" not in html and "style=" not in html

    worker = await client.get("/scan/sw.js")
    assert worker.status == 200
    assert worker.headers["Content-Type"].startswith("text/javascript")
    first_line = (await worker.text()).split("\n", 1)[0]
    config = json.loads(first_line.removeprefix("self.TOMONI_SW = ").removesuffix(";"))
    assert set(config["pages"]) == {"/scan/", "/scan/pair"}
    assert len(config["optional"]) == 12  # each language's strings
    for url in [*config["assets"], *config["optional"]]:  # every file kept is really there
        assert (await client.get(url)).status == 200, url
    assert any("/vendor/jsqr-" in url and "?v=" in url for url in config["assets"])
    # The booth tablet's QR code generator is kept for offline use too.
    assert any("/vendor/qrcode-generator-" in url and "?v=" in url for url in config["assets"])

    strings = await (await client.get("/scan/i18n/th.json")).json()
    assert strings["strings"]["ENTRY"] == "เข้า"
    assert strings["results"]["cancelled"] == "บัตรนี้ถูกยกเลิกแล้ว"
    for bad in ("xx", "EN", "..%2Fen"):
        assert (await client.get(f"/scan/i18n/{bad}.json")).status == 404
    assert (await client.get("/scan/event.json")).status == 401
