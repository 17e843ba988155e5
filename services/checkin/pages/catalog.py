"""Checkin's message catalog (domain ``messages``): which strings the scanner and the scan
API use, and keeping ``messages.pot`` and every ``<lang>/LC_MESSAGES/messages.po`` in step.

Sources: ``T.t("…")`` in the scanner's scripts, ``_("…")`` in its templates and in this
package, and the answers of the scan API (``service.MESSAGES``), which the service looks
up by the caller's language. Run ``python -m services.checkin.pages.catalog`` after adding
or changing a string: it rewrites the template and merges it into each language (new
strings arrive untranslated, and the catalog test fails until they are translated;
strings no longer used are dropped). Translations themselves are edited in the ``.po``
files.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

from services.checkin import service
from shared.i18n import LANGUAGES

CODE = Path(__file__).resolve().parent
HERE = CODE.parent
ROOT = HERE.parents[1]
LOCALE = HERE / "locale"
POT = LOCALE / "messages.pot"
TEMPLATES = HERE / "templates" / "scan"
SCRIPTS = HERE / "static" / "scan"
DOMAIN = "messages"


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def translated_languages() -> list[str]:
    """Every language but English, the source."""
    return [lang for lang in LANGUAGES if lang != "en"]


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def used_messages() -> Iterator[tuple[str, str, int]]:
    """(msgid, file, line) for every string the scanner and the scan API show.

    The template's ``data-i18n`` attributes repeat msgids that ``_()`` already marks."""
    sources: list[tuple[Path, Any, dict[str, Any]]] = []
    sources += [(p, "python", {"_": None, "N_": None}) for p in sorted(CODE.glob("*.py"))]
    sources += [(p, babel_extract, {"_": None}) for p in sorted(TEMPLATES.glob("*.html"))]
    # Scripts: T.t(msgid, …) and T.i18n.setText(element, msgid).
    js_keywords: dict[str, Any] = {"t": None, "setText": (2,)}
    sources += [(p, "javascript", js_keywords) for p in sorted(SCRIPTS.glob("*.js"))]
    for path, method, keywords in sources:
        with path.open("rb") as f:
            for lineno, message, _comments, _context in extract(
                method,
                f,
                keywords=keywords,
                comment_tags=(),
            ):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    yield msgid, _rel(path), lineno
    service_py = HERE / "service.py"
    for msgid in service.MESSAGES.values():
        yield msgid, _rel(service_py), 0


def template_catalog() -> Catalog:
    catalog = Catalog(
        domain=DOMAIN,
        project="Tomoni checkin",
        version="0.1.0",
        creation_date=datetime(2026, 11, 29, tzinfo=UTC),
        charset="utf-8",
    )
    catalog.header_comment = (
        "# Tomoni checkin: the volunteer scanner app and the scan API's answers.\n"
        "# msgids are the English source strings. Made by\n"
        "#   python -m services.checkin.pages.catalog"
    )
    for msgid, path, line in used_messages():
        flags = ("python-format",) if "%(" in msgid else ()
        if msgid in catalog:
            catalog[msgid].locations.append((path, line))
        else:
            catalog.add(msgid, locations=[(path, line)], flags=flags)
    return catalog


def read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, sort_output=False)


def update() -> list[str]:
    """Rewrite the template and merge it into every language; returns what changed."""
    pot = template_catalog()
    write(POT, pot)
    untranslated = []
    for lang in translated_languages():
        path = po_path(lang)
        catalog = read(path, lang) if path.exists() else Catalog(locale=lang, domain=DOMAIN)
        catalog.update(pot, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        write(path, catalog)
        untranslated += [f"{lang}: {m.id}" for m in catalog if m.id and not m.string]
    return untranslated


if __name__ == "__main__":
    for line in update():
        print("untranslated", line)
