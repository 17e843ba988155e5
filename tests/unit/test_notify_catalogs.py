"""Notify's catalog (mail and SMS) is complete in every language: a string missing in a
language would send that reader Japanese + English instead, which no quick check sees."""

from __future__ import annotations

import re

import pytest

from services.notify.catalog import CATALOG
from shared.i18n import LANGUAGES

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SHIPPED = CATALOG.shipped_languages()


def template_ids() -> set[str]:
    return {m.id for m in CATALOG.read(CATALOG.pot) if m.id}


def test_every_language_but_english_has_a_catalog() -> None:
    assert sorted(SHIPPED) == sorted(lang for lang in LANGUAGES if lang != "en")


def test_the_template_holds_exactly_the_strings_in_use() -> None:
    used = {msgid for msgid, _p, _l in CATALOG.used()}
    assert used, "extraction found nothing"
    assert sorted(used ^ template_ids()) == [], "run python -m services.notify.catalog"


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_string_is_translated_with_its_placeholders(lang: str) -> None:
    cat = CATALOG.read(CATALOG.po_path(lang), lang)
    missing = [m for m in template_ids() if m not in cat or not cat[m].string]
    wrong = [
        m.id
        for m in cat
        if m.id and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))
    ]
    assert missing == [] and wrong == [] and [m.id for m in cat if m.id and m.fuzzy] == []


def test_japanese_has_furigana_on_every_kanji() -> None:
    cat = CATALOG.read(CATALOG.po_path("ja"), "ja")
    bare = []
    for m in cat:
        if m.id:
            outside = re.sub(r"<ruby>.*?</ruby>", "", str(m.string))
            if re.search(r"[\u4e00-\u9fff]", outside):
                bare.append(m.id)
    assert bare == []
