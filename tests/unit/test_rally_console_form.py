"""The console's rally form as pure functions: which rows count, what is kept from the
stored rally, and where each problem is shown."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.stamprally import console, domain
from shared.i18n import Translator

STORED = {
    "title": {"ja": "ラリー", "vi": "Rally"},
    "booths": [
        {"code": "pho", "name": {"ja": "フォー", "vi": "Phở"}, "description": {"vi": "Ngon"}},
    ],
    "prizes": [{"code": "bag", "name": {"ja": "バッグ", "th": "กระเป๋า"}}],
}


def test_empty_rows_are_skipped_and_other_languages_are_kept_by_code() -> None:
    form = {
        "title.ja": "新しいラリー",
        "min_stamps": "1",
        "booths.0.code": "",  # empty, its kind select alone
        "booths.0.kind": "country",
        "booths.1.code": "pho",
        "booths.1.kind": "food",
        "booths.1.name.ja": "フォーの店",
        "booths.1.required": "1",
        "booths.2.code": "new",
        "booths.2.kind": "stage",
        "booths.2.name.en": "Stage",
        "prizes.0.code": "bag",
        "prizes.0.stock": "5",
        "prizes.1.code": "",
        "opens_at": "2026-10-25T10:00",
    }
    parsed = console.parse_form(form, STORED, "Asia/Tokyo")
    d = parsed.draft
    assert parsed.booth_rows == [1, 2] and parsed.prize_rows == [0]
    assert d.title == {"ja": "新しいラリー", "vi": "Rally"}
    assert d.booths[0] == domain.Booth(
        "pho", {"vi": "Phở", "ja": "フォーの店"}, "food", {"vi": "Ngon"}
    )
    assert d.booths[1] == domain.Booth("new", {"en": "Stage"}, "stage", {})
    assert d.required_booths == ("pho",)
    assert d.prizes == (domain.Prize("bag", {"th": "กระเป๋า"}, 5),)
    assert d.opens_at == datetime(2026, 10, 25, 10, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert parsed.problems == [] and domain.validate_rally(d) == [
        domain.Problem("prizes.0.name", "required")
    ], "a kept Thai name is not Japanese or English"


def test_each_problem_goes_to_its_row_and_field_with_a_label() -> None:
    form = {
        "min_stamps": "x",
        "booths.3.code": "a",
        "booths.3.name.ja": "A",
        "booths.7.code": "a",
        "closes_at": "soon",
    }
    parsed = console.parse_form(form, None, "Asia/Tokyo")
    problems = parsed.problems + domain.validate_rally(parsed.draft)
    t = Translator("en", locale_dirs=(console.LOCALE_DIR,), domain=console.DOMAIN)
    shown = console.errors_at_fields(problems, parsed, t)
    assert shown["min_stamps"] == "Enter a whole number."
    assert shown["closes_at"] == "Enter a date and a time."
    assert shown["title.ja"] == "Please fill this in, in Japanese or English."
    assert shown["booths.7.code"] == "This code is used twice."  # row 7, the draft's second
    assert shown["booths.7.name.ja"] == "Please fill this in, in Japanese or English."
    assert console.field_label("booths.7.code", t) == "Booth 8: Code"
    assert console.field_label("prizes.0.stock", t) == "Prize 1: Stock"
    assert console.field_label("booths.0.name.vi", t) == ""


def test_a_stored_rally_fills_the_form_and_leaves_five_empty_booth_rows() -> None:
    stored = {
        **STORED,
        "min_stamps": 1,
        "required_booths": ["pho"],
        "requires_checkin": True,
        "opens_at": "2026-10-25T01:00:00+00:00",
        "closes_at": None,
        "booths": [{**STORED["booths"][0], "kind": "food"}],
        "prizes": [{**STORED["prizes"][0], "stock": 5, "left": 3}],
    }
    values = console.form_values(stored, "Asia/Tokyo")
    assert values["opens_at"] == "2026-10-25T10:00" and "closes_at" not in values
    assert values["booths.0.required"] == "1" and values["booths.0.name.ja"] == "フォー"
    assert values["booths.0.description.ja"] == "" and values["prizes.0.stock"] == "5"
    assert console.row_count(values, "booths", console.EMPTY_BOOTH_ROWS) == 6
    assert console.row_count({"booths.4.kind": "food"}, "booths", 5) == 5
