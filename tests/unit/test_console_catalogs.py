"""The organizer console's catalog ("console" domain) is complete: every string the pages
use is in the template, and every language shipped translates every one of them.

A missing translation does not break a page (it falls back to Japanese, then English),
so nothing would look wrong in a quick check: these tests are what notices."""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog

from services.registration.console.catalog import (
    POT,
    po_path,
    read,
    shipped_languages,
    used_messages,
)
from services.registration.console.labels import GENERIC_ERRORS, NOTICES, STATUSES
from services.registration.console.web import translator
from shared.i18n import LANGUAGES

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SHIPPED = shipped_languages()


def template_ids() -> set[str]:
    return {m.id for m in read(POT) if m.id}


def catalog(lang: str) -> Catalog:
    return read(po_path(lang), lang)


def test_every_language_but_the_english_source_has_a_console_catalog() -> None:
    assert "ja" in SHIPPED
    assert sorted(SHIPPED) == sorted(lang for lang in LANGUAGES if lang != "en")


def test_the_template_holds_exactly_the_strings_the_console_uses() -> None:
    used = {msgid for msgid, _path, _line in used_messages()}
    assert used, "extraction found nothing: the keywords or paths are wrong"
    assert sorted(used - template_ids()) == [], (
        "run python -m services.registration.console.catalog"
    )
    assert sorted(template_ids() - used) == [], "stale strings: regenerate the template"


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_console_string_is_translated(lang: str) -> None:
    cat = catalog(lang)
    assert f'"Language: {lang}\\n"' in po_path(lang).read_text(encoding="utf-8")
    missing = [m for m in template_ids() if m not in cat or not cat[m].string]
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert missing == [] and fuzzy == []


@pytest.mark.parametrize("lang", SHIPPED)
def test_translations_keep_their_placeholders(lang: str) -> None:
    """A dropped or renamed ``%(n)s`` would raise at render time, in that language only."""
    wrong = [
        (m.id, m.string)
        for m in catalog(lang)
        if m.id and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))
    ]
    assert wrong == []


@pytest.mark.parametrize("lang", SHIPPED)
def test_pages_read_the_console_domain_in_each_language(lang: str) -> None:
    t = translator(lang)
    for message in (*STATUSES.values(), *NOTICES.values(), *GENERIC_ERRORS.values(), "Events"):
        assert t.gettext(message) == catalog(lang)[message].string


def test_japanese_is_its_own_text_not_a_copy_of_the_english() -> None:
    same = [m.id for m in catalog("ja") if m.id and m.string == m.id and m.id != "Tomoni"]
    assert same == []
