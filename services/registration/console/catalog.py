"""The console's message catalog ("console" domain): which strings the code and the
templates use, and keeping ``console.pot`` and every ``<lang>/console.po`` in step.

Run ``python -m services.registration.console.catalog`` after adding or changing a
string: it rewrites the template and merges it into each language's catalog (new strings
arrive untranslated, and the catalogs test fails until they are translated; strings no
longer used are dropped). Translations themselves are edited in the ``.po`` files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jinja2.ext import babel_extract

from services.registration.console.web import DOMAIN, LOCALE, TEMPLATES
from shared.catalogs import CatalogFiles, Source, extract_messages, main
from shared.templating import CONSOLE_TABS

CODE = Path(__file__).resolve().parent
ROOT = CODE.parents[2]
POT = LOCALE / f"{DOMAIN}.pot"
# `_` in code and templates, `N_` marks labels, `t_` is the registrant's language on a
# ticket, `gettext` a translator called directly.
KEYWORDS: dict[str, None] = {"_": None, "N_": None, "t_": None, "gettext": None}


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def used_messages() -> Iterator[tuple[str, str, int]]:
    """(msgid, file, line) for every translatable string the console uses."""
    sources: list[Source] = [(p, "python") for p in sorted(CODE.glob("*.py"))]
    sources += [(p, babel_extract) for p in sorted(TEMPLATES.glob("*.html"))]
    sources.append((CONSOLE_TABS, babel_extract))  # the event's tabs, shared
    yield from extract_messages(sources, ROOT, KEYWORDS)


CATALOG = CatalogFiles(LOCALE, DOMAIN, "Tomoni console", used_messages)
read = CATALOG.read
shipped_languages = CATALOG.shipped_languages


if __name__ == "__main__":
    main(CATALOG)
