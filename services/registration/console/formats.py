"""How the console writes numbers, dates, phone numbers and multilingual texts for the
person reading: Babel's locale data for the console's language, Japan time by default."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import format_datetime, format_skeleton
from babel.numbers import format_decimal

TOKYO = ZoneInfo("Asia/Tokyo")
# Babel knows Tagalog as Filipino; every other code of ours is a Babel locale as is.
BABEL_LOCALES = {"tl": "fil"}


def pick(text: Mapping[str, str] | None, lang: str) -> str:
    """A multilingual text in ``lang``, else Japanese, else English, else any."""
    if not text:
        return ""
    for code in (lang, "ja", "en"):
        if text.get(code, "").strip():
            return text[code]
    return next((v for v in text.values() if v.strip()), "")


def babel_locale(lang: str) -> str:
    return BABEL_LOCALES.get(lang, lang)


def fmt_num(value: int | float | None, lang: str) -> str:
    return "" if value is None else format_decimal(value, locale=babel_locale(lang))


def fmt_when(value: datetime | None, lang: str, tz: str | ZoneInfo = TOKYO) -> str:
    """A date and time for people planning an event: weekday included, no seconds."""
    if value is None:
        return ""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    loc = babel_locale(lang)
    day = format_skeleton("yMMMEd", value, tzinfo=zone, locale=loc)
    return f"{day} {format_skeleton('Hm', value, tzinfo=zone, locale=loc)}"


def fmt_short(value: datetime | None, lang: str, tz: ZoneInfo = TOKYO) -> str:
    """A compact date and time for table cells."""
    if value is None:
        return ""
    return format_datetime(value, "short", tzinfo=tz, locale=babel_locale(lang))


def fmt_phone(e164: str | None) -> str:
    """Japanese numbers as staff dial them (090-1234-5678); others internationally."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 81
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return str(phonenumbers.format_number(number, style))
