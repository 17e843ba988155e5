"""Checkin's catalog speaks every language: the scanner app's strings and the scan API's
answers (``service.MESSAGES``) are translated in all eleven languages besides English,
and the template of msgids is in step with what the code and templates use.

A missing or identical translation would not fail anywhere else: it quietly falls back
to Japanese (see ``shared.i18n``). After changing a string, run
``python -m services.checkin.pages.catalog`` and translate what it reports.
"""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog

from services.checkin import service
from services.checkin.pages import catalog
from services.checkin.pages.views import LOCALE_DIR, strings_for
from shared.i18n import LANGUAGES, has_translation, translator

OTHER_LANGUAGES = [lang for lang in LANGUAGES if lang != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def template() -> Catalog:
    return catalog.read(catalog.POT)


def msgids(c: Catalog) -> set[str]:
    return {str(m.id) for m in c if m.id}


def test_template_lists_exactly_the_strings_in_use() -> None:
    used = {msgid for msgid, _path, _line in catalog.used_messages()}
    assert msgids(template()) == used, "run: python -m services.checkin.pages.catalog"


def test_the_api_answers_are_in_the_catalog() -> None:
    assert set(service.MESSAGES.values()) <= msgids(template())


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_every_msgid_is_translated(lang: str) -> None:
    path = catalog.po_path(lang)
    assert path.exists(), f"{path} is missing"
    po = catalog.read(path, lang)
    assert po.locale.language in (lang, "fil")  # Babel reads Tagalog as Filipino
    by_id = {str(m.id): m for m in po if m.id}
    problems = []
    for msgid in sorted(msgids(template())):
        m = by_id.get(msgid)
        if m is None or not m.string:
            problems.append(f"missing: {msgid!r}")
        elif m.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif m.string == msgid:
            # gettext treats an identical text as untranslated and falls back to Japanese.
            problems.append(f"same as English: {msgid!r}")
        elif set(PLACEHOLDER.findall(str(m.string))) != set(PLACEHOLDER.findall(msgid)):
            problems.append(f"placeholders differ: {msgid!r} → {m.string!r}")
    assert problems == []


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_scan_answers_are_translated(lang: str) -> None:
    missing = [m for m in service.MESSAGES.values() if not has_translation(lang, m, LOCALE_DIR)]
    assert missing == []
    t = translator(lang, LOCALE_DIR)
    assert t.gettext(service.MESSAGES["admitted"]) == strings_for(lang)["results"]["admitted"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_scanner_gets_every_string_in_its_language(lang: str) -> None:
    pack = strings_for(lang)
    assert set(pack["strings"]) == msgids(template())
    assert set(pack["results"]) == set(service.MESSAGES)
    assert set(pack["languages"]) == set(LANGUAGES)
    if lang == "en":
        assert all(k == v for k, v in pack["strings"].items())
    else:
        assert all(k != v for k, v in pack["strings"].items())


# -- the organizer console's page of offline duplicates (staff-facing, no furigana) ---------
def test_the_console_template_holds_exactly_the_strings_in_use() -> None:
    assert "Offline duplicates" in {msgid for msgid, _p, _l in catalog.CONSOLE.used()}
    assert catalog.CONSOLE.out_of_step() == [], "run python -m services.checkin.pages.catalog"
    assert sorted(catalog.CONSOLE.shipped_languages()) == sorted(OTHER_LANGUAGES)


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_every_console_string_is_translated_with_its_placeholders_and_no_markup(
    lang: str,
) -> None:
    assert catalog.CONSOLE.faults(lang) == []
