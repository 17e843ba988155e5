"""The event's tabs are the same on every console page: registration's own pages
(``_macros.html``) and the pages of notify, stamprally and checkin (the shared
``console_tabs.html``)."""

from __future__ import annotations

import re
from pathlib import Path

from shared.templating import CONSOLE_TABS

ROOT = Path(__file__).resolve().parents[2]
REGISTRATION = ROOT / "services/registration/templates/console/_macros.html"
TAB = re.compile(
    r"\('(\w+)',\s*'([^']*)'\s*~\s*(?:event\.)?slug(?:\s*~\s*'([^']*)')?,\s*_\('([^']+)'\)\)"
)


def tabs(path: Path) -> list[tuple[str, ...]]:
    text = path.read_text()
    block = text[text.index("macro event_tabs") :]
    block = block[: block.index("endmacro")]
    return [m.groups() for m in TAB.finditer(block)]


def test_the_shared_tabs_are_registrations_tabs() -> None:
    mine = tabs(CONSOLE_TABS)
    assert len(mine) == 8 and ("rally", "/console/rally/", None, "Stamp rally") in mine
    assert mine == tabs(REGISTRATION)
