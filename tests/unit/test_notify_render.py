"""Every message renders in every language: a subject with no markup, an HTML part with
furigana for Japanese, a plain-text part without it, and Japanese + English side by side
when a language's catalog does not translate the whole template."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.notify import domain, render
from shared.i18n import LANGUAGES

EVENT = render.EventInfo(
    title={"ja": "多文化ふれあいフェスタ", "en": "Multicultural Fair"},
    venue={"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
    starts_at=datetime(2026, 12, 5, 1, 0, tzinfo=UTC),
    ends_at=datetime(2026, 12, 5, 7, 0, tzinfo=UTC),
    timezone="Asia/Tokyo",
)
VALUES: dict[str, Any] = {
    "name": "Nguyễn Thị Lan",
    "manage_url": "https://tomoni.example/r/0190/abc",
    "ticket_id": "01900000-0000-7000-8000-00000000abcd",
    "qr_text": "T1.ABC",
    "position": 3,
    "announcement": {"subject": {"ja": "会場の変更", "en": "Venue change"}, "body": {"en": "A\nB"}},
    "unsubscribe_url": "https://tomoni.example/notify/unsubscribe?t=x",
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", domain.TEMPLATES)
def test_every_template_renders_in_every_language(lang: str, template: str) -> None:
    out = render.render(template, lang, EVENT, VALUES)
    assert out.languages == (lang,), "the catalog translates the whole template"
    for text in (out.subject, out.text, out.sms):
        assert "<" not in text and "&lt;" not in text and "&amp;" not in text
    assert out.subject and out.sms and out.text
    assert f'lang="{lang}"' in out.html
    if lang == "ja":
        assert "<ruby>" in out.html
    if template in ("ticket", "promoted", "reminder"):
        assert "cid:ticket-qr" in out.html and "ABCD" in out.text


def test_a_language_missing_a_string_gets_japanese_and_english_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render, "complete", lambda lang, name: lang in ("ja", "en"))
    out = render.render("ticket", "vi", EVENT, VALUES)
    assert out.languages == ("ja", "en")
    assert " / " in out.subject and "多文化" in out.subject and "Multicultural" in out.subject
    assert 'lang="ja"' in out.html and 'lang="en"' in out.html


def test_an_unknown_template_is_an_error_not_a_blank_message() -> None:
    with pytest.raises(render.TemplateMissing):
        render.render("no_such_template", "en", EVENT, VALUES)


def test_announcement_text_comes_in_the_readers_language_or_falls_back() -> None:
    ja = render.render("announcement", "ja", EVENT, VALUES)
    assert "会場の変更" in ja.subject
    ko = render.render("announcement", "ko", EVENT, VALUES)
    assert "会場の変更" in ko.subject  # no Korean text given: Japanese first
    assert VALUES["unsubscribe_url"] in ko.text


def test_the_qr_png_is_small_and_valid() -> None:
    from services.notify.channels import qr_png

    png = qr_png("T1." + "A" * 100)
    assert png.startswith(b"\x89PNG") and len(png) < 2000
