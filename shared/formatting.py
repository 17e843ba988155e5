"""Localized formatting shared by pages and messages: an event's multilingual texts in a
reader's language (falling back to Japanese, then English), its day and times in the
event's time zone, numbers, and translations stripped of their furigana markup where
HTML cannot go (a mail subject, an SMS, a page title).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime, format_interval
from babel.numbers import format_decimal
from markupsafe import Markup

TOKYO = "Asia/Tokyo"

# Babel names Tagalog by its standard form, Filipino.
_BABEL_LOCALE = {"tl": "fil"}


@dataclass(frozen=True)
class Localized:
    """A text from the database and the language it is really in (for ``lang=``)."""

    text: str
    lang: str


class Formatter:
    """Dates, numbers and multilingual texts for one page language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(_BABEL_LOCALE.get(lang, lang))

    def text(self, value: dict[str, str] | None) -> Localized:
        """Event content as given in the page language, else Japanese, else English."""
        value = value or {}
        for code in (self.lang, "ja", "en", *value):
            if value.get(code, "").strip():
                return Localized(value[code].strip(), code)
        return Localized("", self.lang)

    def paragraphs(self, value: dict[str, str] | None) -> tuple[str, list[str]]:
        loc = self.text(value)
        return loc.lang, [p.strip() for p in loc.text.splitlines() if p.strip()]

    def date(self, at: datetime, tz: str = TOKYO) -> str:
        """The day with its weekday, e.g. ``2026年10月25日(日)`` or ``Sun, October 25, 2026``."""
        pattern = self.locale.datetime_skeletons["yMMMMEd"]
        return format_datetime(at, pattern, tzinfo=zone_of(tz), locale=self.locale)

    def times(self, start: datetime, end: datetime, tz: str = TOKYO) -> str:
        """Start to end, 24-hour clock (``13:00–16:30``); the end's day when it differs."""
        zone = zone_of(tz)
        if start.astimezone(zone).date() != end.astimezone(zone).date():
            return format_interval(start, end, "yMMMdHm", tzinfo=zone, locale=self.locale)
        return format_interval(start, end, "Hm", tzinfo=zone, locale=self.locale)

    def when(self, at: datetime, tz: str = TOKYO, *, seconds: bool = False) -> str:
        """The day and the 24-hour time, e.g. ``2026年10月25日(日) 10:05``."""
        pattern = "HH:mm:ss" if seconds else "HH:mm"
        clock = format_datetime(at, pattern, tzinfo=zone_of(tz), locale=self.locale)
        return f"{self.date(at, tz)} {clock}"

    def number(self, n: int) -> str:
        return format_decimal(n, locale=self.locale)


def zone_of(name: str | None) -> ZoneInfo:
    """An event's time zone; Tokyo when it is missing or unknown."""
    try:
        return ZoneInfo(name or TOKYO)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(TOKYO)


_RT = re.compile(r"<(rt|rp)>.*?</\1>", re.S)
_TAG = re.compile(r"<[^>]+>")


def plain(value: Any) -> str:
    """A translation without its markup, for places HTML cannot go: furigana readings are
    dropped (``<ruby>申<rt>もう</rt></ruby>`` → ``申``), other tags removed, entities
    decoded; autoescape escapes the result again where it is printed."""
    text = _TAG.sub("", _RT.sub("", str(value)))
    return Markup(text).unescape()
