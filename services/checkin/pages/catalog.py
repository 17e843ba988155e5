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
from pathlib import Path

from jinja2.ext import babel_extract

from services.checkin import console, service
from shared.catalogs import CatalogFiles, extract_messages, main
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
    yield from extract_messages([(p, "python") for p in sorted(CODE.glob("*.py"))], ROOT)
    templates = sorted(TEMPLATES.glob("*.html"))
    yield from extract_messages([(p, babel_extract) for p in templates], ROOT, {"_": None})
    # Scripts: T.t(msgid, …) and T.i18n.setText(element, msgid).
    scripts = [(p, "javascript") for p in sorted(SCRIPTS.glob("*.js"))]
    yield from extract_messages(scripts, ROOT, {"t": None, "setText": (2,)})
    service_py = HERE / "service.py"
    for msgid in service.MESSAGES.values():
        yield msgid, _rel(service_py), 0


CATALOG = CatalogFiles(
    LOCALE,
    DOMAIN,
    "Tomoni checkin",
    used_messages,
    header_comment=(
        "# Tomoni checkin: the volunteer scanner app and the scan API's answers.\n"
        "# msgids are the English source strings. Made by\n"
        "#   python -m services.checkin.pages.catalog"
    ),
)
read = CATALOG.read


def update() -> list[str]:
    """Rewrite the template and merge it into every language; returns what is left
    untranslated."""
    return CATALOG.update(translated_languages())


# The organizers' page of offline duplicates (staff-facing: no furigana).
CONSOLE = CatalogFiles(
    LOCALE,
    console.DOMAIN,
    "Tomoni checkin console",
    console.used_messages,
    header_comment=(
        "# Tomoni checkin: the organizer console's page of offline duplicates.\n"
        "# msgids are the English source strings. Made by\n"
        "#   python -m services.checkin.pages.catalog"
    ),
)


if __name__ == "__main__":
    main(CATALOG, translated_languages())
    main(CONSOLE, translated_languages())
