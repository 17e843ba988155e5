"""A phone in a real browser, for the tests of pages: Debian's Chromium driven by Playwright.

Playwright's own browser download cannot work on the build machines, so the system
Chromium (``/usr/bin/chromium``, installed by ``make``) is launched instead. The phone is
what the attendees have: a small touch screen with a dense display.

Use it from a test module with two small fixtures::

    @pytest.fixture(scope="module")
    async def browser() -> AsyncIterator[Browser]:
        async with chromium() as b:
            yield b

    @pytest.fixture
    async def page(browser: Browser) -> AsyncIterator[Page]:
        async with phone(browser, locale="ja-JP") as p:
            yield p

and save what a person would see with ``await screenshot(page, "name")`` (into
``tests/artifacts/``, which git ignores).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
# A typical small Android phone (CSS pixels), as many attendees carry.
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 15_000


def require_chromium() -> str:
    """The browser's path, or a failed test that says how to get it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. Install it "
            "with `make /usr/bin/chromium` (apt-get install chromium fonts-noto-cjk).",
            pytrace=False,
        )
    return str(CHROMIUM)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium, closed (with Playwright's driver) on exit."""
    path = require_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=path, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def phone(browser: Browser, *, locale: str = "ja-JP", **options: Any) -> AsyncIterator[Page]:
    """A fresh phone (no cookies, no cache) with one page open. ``locale`` sets the
    phone's ``Accept-Language``; ``options`` go to ``Browser.new_context``."""
    context = await browser.new_context(**{**PHONE, "locale": locale, **options})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG in ``tests/artifacts/<name>.png``, to look at after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def has_horizontal_overflow(page: Page) -> bool:
    """True when the page is wider than the phone (the reader would have to pan)."""
    return bool(
        await page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")
    )


_SMALL_TARGETS = """
(minimum) => [...document.querySelectorAll(
    'a[href], button, summary, select, textarea, input:not([type=hidden])')]
  .filter((el) => !el.closest('.skip') && el.getClientRects().length > 0)
  .map((el) => {
    // A radio button or checkbox is reached through its whole labelled row.
    const target = ['radio', 'checkbox'].includes(el.type) ? (el.closest('.choice') || el) : el;
    const box = target.getBoundingClientRect();
    return [el.outerHTML.slice(0, 80), Math.round(box.width), Math.round(box.height)];
  })
  .filter(([, width, height]) => width < minimum || height < minimum)
"""


async def small_touch_targets(page: Page, minimum: int = 44) -> list[list[Any]]:
    """Visible links and controls smaller than ``minimum`` CSS pixels either way (WCAG
    2.5.5's 44 px, which a thumb on a small phone needs): ``[html, width, height]``."""
    found: list[list[Any]] = await page.evaluate(_SMALL_TARGETS, minimum)
    return found
