"""The stamp card speaks every language: each string the page uses is in the catalog
template and translated in each language with its placeholders, Japanese carries
furigana on every kanji, and translations are safe to print as HTML (the page trusts
them, for the furigana)."""

from __future__ import annotations

import re

import pytest

from services.stamprally.pages.catalog import CATALOG, CONSOLE, translated_languages
from shared.i18n import LANGUAGES

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
RUBY = re.compile(r"<ruby>(.*?)<rt>(.+?)</rt></ruby>", re.S)


def template_ids() -> set[str]:
    return {m.id for m in CATALOG.read(CATALOG.pot) if m.id}


def strings(lang: str) -> list[tuple[str, str]]:
    return [(m.id, m.string) for m in CATALOG.read(CATALOG.po_path(lang), lang) if m.id]


def test_every_language_but_english_has_a_catalog() -> None:
    assert sorted(CATALOG.shipped_languages()) == sorted(c for c in LANGUAGES if c != "en")
    assert translated_languages() == CATALOG.shipped_languages()


def test_the_template_holds_exactly_the_strings_in_use() -> None:
    used = {msgid for msgid, _path, _line in CATALOG.used()}
    assert len(used) > 40, "extraction found too little"
    assert "Scan the booth's code" in used and "Country or region" in used
    assert sorted(used ^ template_ids()) == [], "run python -m services.stamprally.pages.catalog"


@pytest.mark.parametrize("lang", translated_languages())
def test_every_string_is_translated_with_its_placeholders(lang: str) -> None:
    cat = CATALOG.read(CATALOG.po_path(lang), lang)
    missing = [m for m in template_ids() if m not in cat or not cat[m].string]
    wrong = [
        m.id
        for m in cat
        if m.id and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))
    ]
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert (missing, wrong, fuzzy) == ([], [], [])


@pytest.mark.parametrize("lang", translated_languages())
def test_translations_are_safe_html(lang: str) -> None:
    """Only Japanese may carry markup, and only furigana."""
    bad = []
    for msgid, s in strings(lang):
        rest = RUBY.sub(r"\1", s) if lang == "ja" else s
        if "<" in rest or ">" in rest or "&" in rest:
            bad.append(msgid)
    assert bad == []


def test_japanese_has_furigana_on_every_kanji() -> None:
    bare = []
    for msgid, s in strings("ja"):
        outside = KANJI.findall(RUBY.sub("", s))
        if outside:
            bare.append((msgid, "".join(outside)))
        for base, reading in RUBY.findall(s):
            if not KANJI.search(base) or KANJI.search(reading):
                bare.append((msgid, f"{base}/{reading}"))
    assert bare == []


def test_the_page_messages_do_not_shadow_the_api_messages() -> None:
    """This catalog is searched before ``shared/locale`` for the whole service (its
    problem documents too): an API title with furigana markup would be a bug."""
    from shared.http import FIELD_MESSAGES, TITLES

    api = {*TITLES.values(), *FIELD_MESSAGES.values()}
    assert sorted(template_ids() & api) == []


# -- the organizer console's rally form (staff-facing: plain Japanese, no furigana) ---------
def test_the_console_template_holds_exactly_the_strings_in_use() -> None:
    used = {msgid for msgid, _path, _line in CONSOLE.used()}
    assert "Save the stamp rally" in used and "This code is used twice." in used
    assert CONSOLE.out_of_step() == [], "run python -m services.stamprally.pages.catalog"
    assert sorted(CONSOLE.shipped_languages()) == sorted(c for c in LANGUAGES if c != "en")


@pytest.mark.parametrize("lang", translated_languages())
def test_every_console_string_is_translated_with_its_placeholders_and_no_markup(
    lang: str,
) -> None:
    assert CONSOLE.faults(lang) == []
