"""Notify's catalogs are complete in every language: the mail and SMS strings
("messages": a string missing in a language would send that reader Japanese + English
instead, which no quick check sees) and the organizers' page ("console")."""

from __future__ import annotations

import re

import pytest

from services.notify.catalog import CATALOG, CONSOLE
from shared.catalogs import CatalogFiles
from shared.i18n import LANGUAGES

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
BOTH = {"messages": CATALOG, "console": CONSOLE}
CASES = [(name, lang) for name, files in BOTH.items() for lang in files.shipped_languages()]


def template_ids(files: CatalogFiles) -> set[str]:
    return {m.id for m in files.read(files.pot) if m.id}


@pytest.mark.parametrize("files", BOTH.values(), ids=BOTH.keys())
def test_every_language_but_english_has_a_catalog(files: CatalogFiles) -> None:
    assert sorted(files.shipped_languages()) == sorted(code for code in LANGUAGES if code != "en")


@pytest.mark.parametrize("files", BOTH.values(), ids=BOTH.keys())
def test_the_template_holds_exactly_the_strings_in_use(files: CatalogFiles) -> None:
    used = {msgid for msgid, _p, _l in files.used()}
    assert used, "extraction found nothing"
    assert sorted(used ^ template_ids(files)) == [], "run python -m services.notify.catalog"


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_every_string_is_translated_with_its_placeholders(name: str, lang: str) -> None:
    files = BOTH[name]
    cat = files.read(files.po_path(lang), lang)
    missing = [m for m in template_ids(files) if m not in cat or not cat[m].string]
    wrong = [
        m.id
        for m in cat
        if m.id and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))
    ]
    assert missing == [] and wrong == [] and [m.id for m in cat if m.id and m.fuzzy] == []


def test_japanese_mail_has_furigana_on_every_kanji() -> None:
    cat = CATALOG.read(CATALOG.po_path("ja"), "ja")
    bare = []
    for m in cat:
        if m.id:
            outside = re.sub(r"<ruby>.*?</ruby>", "", str(m.string))
            if re.search(r"[\u4e00-\u9fff]", outside):
                bare.append(m.id)
    assert bare == []
