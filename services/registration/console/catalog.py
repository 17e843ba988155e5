"""The console's message catalog ("console" domain): which strings the code and the
templates use, and keeping ``console.pot`` and every ``<lang>/console.po`` in step.

Run ``python -m services.registration.console.catalog`` after adding or changing a
string: it rewrites the template and merges it into each language's catalog (new strings
arrive untranslated, and the catalogs test fails until they are translated; strings no
longer used are dropped). Translations themselves are edited in the ``.po`` files.
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

from services.registration.console.web import DOMAIN, LOCALE, TEMPLATES
from shared.i18n import LANGUAGES

CODE = Path(__file__).resolve().parent
ROOT = CODE.parents[2]
POT = LOCALE / f"{DOMAIN}.pot"
# `_` in code and templates, `N_` marks labels, `t_` is the registrant's language on a
# ticket, `gettext` a translator called directly.
KEYWORDS: dict[str, None] = {"_": None, "N_": None, "t_": None, "gettext": None}


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def shipped_languages() -> list[str]:
    """Languages that have a console catalog (English is the source: no catalog)."""
    return [lang for lang in LANGUAGES if lang != "en" and po_path(lang).exists()]


def used_messages() -> Iterator[tuple[str, str, int]]:
    """(msgid, file, line) for every translatable string the console uses."""
    sources = [(p, "python") for p in sorted(CODE.glob("*.py"))]
    sources += [(p, "jinja") for p in sorted(TEMPLATES.glob("*.html"))]
    for path, kind in sources:
        method: Any = "python" if kind == "python" else babel_extract  # babel's stub is narrow
        with path.open("rb") as f:
            for lineno, message, _comments, _context in extract(
                method, f, keywords=KEYWORDS, comment_tags=()
            ):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    yield msgid, str(path.relative_to(ROOT)), lineno


def template_catalog() -> Catalog:
    catalog = Catalog(
        domain=DOMAIN,
        project="Tomoni console",
        version="0.1.0",
        creation_date=datetime(2026, 11, 28, tzinfo=UTC),
        charset="utf-8",
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
        write_po(f, catalog, width=100, ignore_obsolete=True, sort_output=False)


def update() -> None:
    template = template_catalog()
    write(POT, template)
    for lang in shipped_languages():
        catalog = read(po_path(lang), lang)
        catalog.update(template, no_fuzzy_matching=True)
        write(po_path(lang), catalog)


if __name__ == "__main__":
    update()
