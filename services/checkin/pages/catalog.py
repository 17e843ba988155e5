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
from typing import Any

from babel.messages.extract import extract
from jinja2.ext import babel_extract

from services.checkin import service
from shared.catalogs import CatalogFiles, main
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


if __name__ == "__main__":
    main(CATALOG, translated_languages())
