"""Notify's rules, pure: channels, unique keys, when a queued message may still go,
backoff, the reminder's moment, and SMS segments."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.notify import domain


@pytest.mark.parametrize(
    ("notify_by", "email", "phone", "sms", "expected"),
    [
        ("email", "a@x.org", None, True, ["email"]),
        ("email", None, "+8190", True, ["sms"]),  # phone only: SMS
        ("email", None, "+8190", False, []),  # … but no gateway configured
        ("sms", "a@x.org", "+8190", True, ["sms"]),
        ("sms", "a@x.org", "+8190", False, ["email"]),  # chose SMS, no gateway: email
        ("both", "a@x.org", "+8190", True, ["email", "sms"]),
        ("both", "a@x.org", "+8190", False, ["email"]),
        ("both", None, None, True, []),
    ],
)
def test_channels(
    notify_by: str, email: str | None, phone: str | None, sms: bool, expected: list[str]
) -> None:
    assert domain.channels_for(notify_by, email, phone, sms_enabled=sms) == expected


def test_the_unique_key_names_source_template_recipient_and_channel() -> None:
    keys = {
        domain.dedupe_key(src, tpl, who, ch)
        for src in ("e1", "e2")
        for tpl in ("ticket", "reminder")
        for who in ("r1", "r2")
        for ch in domain.CHANNELS
    }
    assert len(keys) == 16
    assert domain.dedupe_key("e1", "ticket", "r1", "email") == domain.dedupe_key(
        "e1", "ticket", "r1", "email"
    )


@pytest.mark.parametrize(
    ("template", "status", "ok"),
    [
        ("ticket", "confirmed", True),
        ("ticket", "cancelled", False),
        ("reminder", "cancelled", False),
        ("announcement", "rejected", False),
        ("cancelled", "cancelled", True),
        ("rejected", "rejected", True),
        ("waitlisted", "confirmed", True),
        ("ticket", None, False),
    ],
)
def test_a_queued_message_goes_only_if_it_still_makes_sense(
    template: str, status: str | None, ok: bool
) -> None:
    assert domain.may_send(template, status) is ok


def test_backoff_doubles_with_jitter_and_stops_at_the_cap() -> None:
    low = [domain.backoff_seconds(n, base=2, cap=60, rand=lambda: 0.0) for n in range(1, 8)]
    high = [domain.backoff_seconds(n, base=2, cap=60, rand=lambda: 1.0) for n in range(1, 8)]
    assert high == [2, 4, 8, 16, 32, 60, 60]
    assert low == [h / 2 for h in high]


def test_the_reminder_is_the_day_before_at_local_time() -> None:
    # 10:00 JST on 5 December is 01:00 UTC; the reminder is 4 December 18:30 JST.
    due = domain.reminder_due(datetime(2026, 12, 5, 1, 0, tzinfo=UTC), time(18, 30), "Asia/Tokyo")
    assert due.astimezone(UTC) == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    # An event at 00:30 JST on 5 December (15:30 UTC on the 4th) is still "the 5th".
    late = domain.reminder_due(datetime(2026, 12, 4, 15, 30, tzinfo=UTC), time(10, 0), "Asia/Tokyo")
    assert late.astimezone(UTC) == datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def test_sms_segments_per_script() -> None:
    assert domain.segments_of("a" * 160) == ("GSM-7", 1)
    assert domain.segments_of("a" * 161) == ("GSM-7", 2)
    assert domain.segments_of("€" * 80) == ("GSM-7", 1)  # extension chars take two septets
    assert domain.segments_of("€" * 81) == ("GSM-7", 2)
    assert domain.segments_of("あ" * 70) == ("UCS-2", 1)
    assert domain.segments_of("あ" * 71) == ("UCS-2", 2)
    assert domain.segments_of("あ" * 134) == ("UCS-2", 2)
    assert domain.segments_of("Xin chào") == ("GSM-7", 1)  # à is in the GSM alphabet
    assert domain.segments_of("Tiếng Việt") == ("UCS-2", 1)  # ế is not


def test_a_long_sms_is_cut_with_an_ellipsis_and_keeps_its_link() -> None:
    link = " https://tomoni.example/r/abc"
    fitted = domain.fit_sms("お知らせ" * 100, 2, link)
    assert fitted.truncated and fitted.encoding == "UCS-2" and fitted.segments <= 2
    assert fitted.text.endswith("…" + link)
    short = domain.fit_sms("Your ticket:", 3, link)
    assert not short.truncated and short.text == "Your ticket:" + link and short.segments == 1
    ascii_long = domain.fit_sms("x" * 1000, 3, link)
    assert ascii_long.encoding == "GSM-7" and ascii_long.segments == 3
    assert ascii_long.text.endswith("..." + link)
