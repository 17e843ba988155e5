"""Stamprally's message catalog (domain ``messages``): which strings the stamp card page
uses, and keeping ``locale/messages.pot`` and every ``<lang>/LC_MESSAGES/messages.po`` in
step.

Sources: ``_("…")`` and ``N_("…")`` in this package and ``_("…")`` in
``templates/rally``; the page's script shows only texts the templates render. Run
``python -m services.stamprally.pages.catalog`` after adding or changing a string (of the
card or of the console's rally form, ``console.py``): it
rewrites the template and merges it into each language (new strings arrive
untranslated, and ``tests/unit/test_stamprally_catalogs.py`` fails until they are
translated; strings no longer used are dropped). Translations themselves are edited in
the ``.po`` files; Japanese is easy Japanese with furigana (``<ruby>漢字<rt>かんじ</rt></ruby>``)
on every kanji.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jinja2.ext import babel_extract

from services.stamprally import console
from services.stamprally.pages.render import LOCALE_DIR, TEMPLATES
from shared.catalogs import CatalogFiles, Source, extract_messages, main
from shared.i18n import LANGUAGES

CODE = Path(__file__).resolve().parent
ROOT = CODE.parents[2]
DOMAIN = "messages"


def translated_languages() -> list[str]:
    """Every language but English, the source."""
    return [lang for lang in LANGUAGES if lang != "en"]


def used_messages() -> Iterator[tuple[str, str, int]]:
    """(msgid, file, line) for every string the stamp card shows."""
    sources: list[Source] = [(p, "python") for p in sorted(CODE.glob("*.py"))]
    sources += [(p, babel_extract) for p in sorted(TEMPLATES.glob("*.html"))]
    yield from extract_messages(sources, ROOT)


CATALOG = CatalogFiles(
    LOCALE_DIR,
    DOMAIN,
    "Tomoni stamprally",
    used_messages,
    header_comment=(
        "# Tomoni stamprally: the attendee's stamp card page.\n"
        "# msgids are the English source strings. Made by\n"
        "#   python -m services.stamprally.pages.catalog"
    ),
)


# The organizers' rally form (staff-facing, like the registration console: no furigana).
CONSOLE = CatalogFiles(
    LOCALE_DIR,
    console.DOMAIN,
    "Tomoni stamprally console",
    console.used_messages,
    header_comment=(
        "# Tomoni stamprally: the organizer console's stamp rally form.\n"
        "# msgids are the English source strings. Made by\n"
        "#   python -m services.stamprally.pages.catalog"
    ),
)


if __name__ == "__main__":
    main(CATALOG, translated_languages())
    main(CONSOLE, translated_languages())
