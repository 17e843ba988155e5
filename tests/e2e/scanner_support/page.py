"""What a test does with the scanner app on a phone: pair it from the organizer's link,
scan by typing, read the answer on screen, wait until it works offline."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.scanner_support.stack import Stack

# Generous limits for waiting on conditions: the CI machine (2 cores) may be busy, and a
# service worker installs by fetching the whole app.
TIMEOUT_MS = 30_000
SYNC_TIMEOUT_MS = 60_000


class Watch:
    """Script errors and refused loads (the CSP forbids inline code) on a page."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda e: self.problems.append(f"error: {e}"))
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console: {m.text}")
                if m.type == "error" and "Refused to" in m.text
                else None
            ),
        )


async def paired_scanner(
    stack: Stack, page: Page, slug: str, place: str, role: str = "gate"
) -> dict[str, Any]:
    """Open the organizer's pairing link on the phone and wait for the scanner."""
    page.set_default_timeout(TIMEOUT_MS)
    pairing = await stack.pairing(slug, place, role)
    assert pairing["pairing_url"].startswith(stack.base + "/scan/pair?code=")
    await page.goto(pairing["pairing_url"])
    await page.wait_for_url(f"{stack.base}/scan/")
    await expect(page.locator("#scanner")).to_be_visible()
    await stack.device_known(pairing["device_id"])
    return pairing


async def manual_scan(page: Page, text: str) -> None:
    await page.fill("#manual-code", text)
    await page.press("#manual-code", "Enter")


async def result_shown(page: Page, result: str, provisional: bool = False) -> None:
    box = page.locator("#result")
    await expect(box).to_be_visible()
    await expect(box).to_have_attribute("data-result", result)
    await expect(box).to_have_attribute("data-provisional", "1" if provisional else "0")


async def dismiss(page: Page) -> None:
    await page.locator("#result").click()
    await expect(page.locator("#result")).to_be_hidden()


async def offline_ready(page: Page) -> None:
    """The service worker controls the page and the phone holds the keys and the event."""
    await page.wait_for_function(
        "() => navigator.serviceWorker.controller !== null", timeout=SYNC_TIMEOUT_MS
    )
    await page.wait_for_function(
        "() => ['keys', 'event'].every((k) => localStorage.getItem('tomoni.scan.' + k))"
    )
