"""Registration's event rules, and the city's demo programme obeys them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.registration.demo import demo_events
from services.registration.domain import Category, EventDraft, FormField, validate_event
from shared.i18n import LANGUAGES

START = datetime(2027, 3, 14, 1, tzinfo=UTC)


def good() -> EventDraft:
    return EventDraft(
        slug="fair-2027",
        kind="fair",
        title={"ja": "フェスタ"},
        venue={"en": "Plaza"},
        starts_at=START,
        ends_at=START + timedelta(hours=6),
        categories=(Category(code="visitor", title={"ja": "来場者"}, capacity=100),),
    )


def fields_of(draft: EventDraft) -> list[str]:
    return [e.field for e in validate_event(draft)]


def test_a_good_event_has_no_errors() -> None:
    assert validate_event(good()) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"title": {"fr": "only french"}}, "title"),
        ({"ends_at": START}, "ends_at"),
        ({"starts_at": datetime(2027, 3, 14), "ends_at": datetime(2027, 3, 15)}, "starts_at"),
        ({"categories": ()}, "categories"),
        ({"retention_days": 0}, "retention_days"),
        (
            {"registration_opens_at": START, "registration_closes_at": START},
            "registration_closes_at",
        ),
    ],
)
def test_each_rule_reports_its_field(change: dict[str, object], field: str) -> None:
    assert field in fields_of(replace(good(), **change))  # type: ignore[arg-type]


def test_category_problems_name_the_category() -> None:
    cat = Category(
        code="visitor",
        title={"ja": "x"},
        capacity=-1,
        max_party_size=99,
        fields=(FormField(key="q", type="choice", label={"ja": "?"}),),
    )
    draft = replace(good(), categories=(cat, replace(cat, capacity=1, max_party_size=1)))
    got = fields_of(draft)
    assert "categories.0.capacity" in got and "categories.0.max_party_size" in got
    assert "categories.0.fields.0.choices" in got and "categories.1.code" in got


@pytest.mark.parametrize("today", [date(2026, 11, 28), date(2027, 4, 1), date(2027, 12, 31)])
def test_the_demo_programme_is_valid_and_speaks_every_language(today: date) -> None:
    events = demo_events(today)
    kinds = {e.kind for e in events}
    assert kinds == {"speech_contest", "fair", "festa", "volunteer_fair", "seminar"}
    for e in events:
        assert validate_event(e) == [], e.slug
        assert e.starts_at.date() > today
        for text in (e.title, e.venue, *(c.title for c in e.categories)):
            assert set(text) >= set(LANGUAGES), (e.slug, sorted(set(LANGUAGES) - set(text)))
    contest = next(e for e in events if e.kind == "speech_contest")
    contestants = next(c for c in contest.categories if c.code == "contestant")
    assert contestants.review and {f.key for f in contestants.fields} >= {
        "nationality",
        "first_language",
        "years_in_japan",
        "speech_title",
        "speech_summary",
    }
