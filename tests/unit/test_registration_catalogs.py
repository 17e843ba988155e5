"""The attendee pages speak every language: each msgid the pages and their templates use
is translated in each catalog, Japanese carries furigana on every kanji, and the
catalogs stay valid HTML fragments with the right placeholders.

Msgids are extracted from the code itself with Babel (not read from the ``.pot``), so a
string added to a template without a translation fails here.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from shared.i18n import LANGUAGES, has_translation

ROOT = Path(__file__).resolve().parents[2]
REGISTRATION = ROOT / "services" / "registration"
LOCALE = REGISTRATION / "locale"
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]  # English is the msgids

KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
RUBY = re.compile(r"<ruby>(.*?)<rt>(.+?)</rt></ruby>", re.S)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
Msgid = str | tuple[str, str]


@cache
def used_msgids() -> list[Msgid]:
    """Every msgid in the attendee pages' code (``_``, ``ngettext``, ``N_``) and templates."""
    found: dict[Msgid, None] = {}
    sources = [
        (REGISTRATION / "pages", "**.py", "python", {}),
        (
            REGISTRATION / "templates" / "attendee",
            "**.html",
            "jinja2.ext:babel_extract",
            {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"},
        ),
    ]
    for folder, pattern, method, options in sources:
        for _, _, message, _, _ in extract_from_dir(
            folder,
            [(pattern, method)],
            {pattern: options},
            keywords={**DEFAULT_KEYWORDS, "N_": None},
        ):
            found[message] = None
    return list(found)


@cache
def catalog(lang: str) -> Catalog:
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def strings_of(lang: str) -> list[tuple[Msgid, list[str]]]:
    out = []
    for m in catalog(lang):
        if m.id:
            out.append((m.id, list(m.string) if isinstance(m.id, tuple) else [m.string]))
    return out


def test_the_pages_use_messages_at_all() -> None:
    assert len(used_msgids()) > 50
    assert "Register" in used_msgids()


def test_the_template_lists_every_msgid_the_pages_use() -> None:
    with (LOCALE / "messages.pot").open("rb") as f:
        pot = {m.id for m in read_po(f) if m.id}
    assert [m for m in used_msgids() if m not in pot] == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_of_the_pages_is_translated(lang: str) -> None:
    cat = catalog(lang)
    missing = []
    for msgid in used_msgids():
        if isinstance(msgid, tuple):
            m = cat.get(msgid[0])
            if m is None or not all(m.string):
                missing.append(msgid)
        elif not has_translation(lang, msgid, LOCALE):
            missing.append(msgid)
    assert missing == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_no_translation_is_the_english_text_itself(lang: str) -> None:
    """``shared.i18n.Translator`` takes a translation equal to its msgid for a missing one
    and falls back to Japanese: a Vietnamese "Email" for "Email" would show メール."""
    same = [
        i
        for i, strings in strings_of(lang)
        if set(strings) & set(i if isinstance(i, tuple) else [i])
    ]
    assert same == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_the_placeholders_and_are_safe_html(lang: str) -> None:
    """Templates print translations as HTML (for furigana), so only Japanese may carry
    markup, and a placeholder lost or renamed would break the page."""
    problems = []
    for msgid, strings in strings_of(lang):
        want = set(PLACEHOLDER.findall(msgid[0] if isinstance(msgid, tuple) else msgid))
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != want:
                problems.append((msgid, s, "placeholders"))
            markup = RUBY.sub(r"\1", s) if lang == "ja" else s
            if "<" in markup or ">" in markup or "&" in markup:
                problems.append((msgid, s, "markup"))
    assert problems == []


def test_japanese_has_furigana_on_every_kanji() -> None:
    without_ruby = []
    bare_kanji = []
    for msgid, strings in strings_of("ja"):
        for s in strings:
            if KANJI.search(s) and "<ruby>" not in s:
                without_ruby.append(msgid)
            outside = KANJI.findall(RUBY.sub("", s))
            if outside:
                bare_kanji.append((msgid, "".join(outside)))
            for base, reading in RUBY.findall(s):
                if not KANJI.search(base) or KANJI.search(reading):
                    bare_kanji.append((msgid, f"{base}/{reading}"))
    assert without_ruby == []
    assert bare_kanji == []


def test_page_messages_do_not_shadow_the_api_messages() -> None:
    """This catalog is searched before ``shared/locale`` for the whole service; an API
    problem title with furigana markup in its JSON would be a bug."""
    from shared.http import FIELD_MESSAGES, TITLES

    api = {*TITLES.values(), *FIELD_MESSAGES.values()}
    assert [m for m, _ in strings_of("ja") if m in api] == []
