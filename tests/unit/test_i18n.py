"""Languages: negotiation, fallback, and complete catalogs in every supported language."""

from __future__ import annotations

import pytest

from shared.http import FIELD_MESSAGES, TITLES
from shared.i18n import LANGUAGES, has_translation, negotiate, normalize, translator


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "ja"),
        ("", "ja"),
        ("vi-VN,vi;q=0.9,en;q=0.5", "vi"),
        ("fr-FR, en;q=0.4", "en"),
        ("fil-PH", "tl"),
        ("zh-Hans-CN", "zh"),
        ("pt-BR;q=0.2, ne;q=0.8", "ne"),
        ("de, fr", "ja"),
        ("en;q=0, ko", "ko"),
    ],
)
def test_accept_language_picks_the_best_supported_language(
    header: str | None, expected: str
) -> None:
    assert negotiate(header) == expected


def test_normalize_rejects_unknown_languages() -> None:
    assert normalize("xx") is None and normalize("TR") == "tr" and normalize(None) is None


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_user_facing_message_is_translated(lang: str) -> None:
    missing = [
        m for m in [*TITLES.values(), *FIELD_MESSAGES.values()] if not has_translation(lang, m)
    ]
    assert missing == []


def test_english_is_the_source_and_unknown_text_falls_back_to_itself() -> None:
    assert translator("en").gettext(TITLES["not_found"]) == TITLES["not_found"]
    assert translator("ja").gettext("no such message") == "no such message"
    assert translator("vi").gettext(TITLES["not_found"]) != translator("ja").gettext(
        TITLES["not_found"]
    )
