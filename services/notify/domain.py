"""Notify's rules: pure, synchronous, no I/O.

Which message a fact causes, on which channels, under which unique key; when a message
may still be sent; how long to wait before trying again; when the reminder of an event
is due; and how an SMS text fits its segments.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")

# Every message Tomoni sends (API.md, Notifications).
TEMPLATES = (
    "ticket",
    "waitlisted",
    "promoted",
    "cancelled",
    "approved",
    "rejected",
    "reminder",
    "announcement",
    "rally_completed",
)

# Registration's facts and the message each one causes (pending_review and changed only
# update the recipient).
TEMPLATE_OF_FACT = {
    "registration.confirmed": "ticket",
    "registration.waitlisted": "waitlisted",
    "registration.promoted": "promoted",
    "registration.approved": "approved",
    "registration.rejected": "rejected",
    "registration.cancelled": "cancelled",
}

# A registration that has ended (cancelled, rejected) gets only the message that says so:
# a ticket, reminder or announcement still queued when it ended is skipped, not sent.
ENDED = ("cancelled", "rejected")
SENT_EVEN_WHEN_ENDED = ("cancelled", "rejected")


def supersedes(incoming_revision: int, held_revision: int | None) -> bool:
    """Only a newer description of an event replaces the one held."""
    return held_revision is None or incoming_revision > held_revision


def newer(incoming_at: datetime, held_at: datetime | None) -> bool:
    """Facts of one registration may arrive out of order: only a newer one replaces."""
    return held_at is None or incoming_at > held_at


def channels_for(
    notify_by: str, email: str | None, phone: str | None, *, sms_enabled: bool
) -> list[Channel]:
    """Where a registrant hears from us: email when given (or chosen), SMS for a phone
    without email (or when chosen) if an SMS gateway is configured; ``both`` uses both."""
    sms_ok = bool(phone) and sms_enabled
    if notify_by == "both":
        return [c for c, ok in (("email", bool(email)), ("sms", sms_ok)) if ok]  # type: ignore[misc]
    if notify_by == "sms":
        if sms_ok:
            return ["sms"]
        return ["email"] if email else []
    if email:
        return ["email"]
    return ["sms"] if sms_ok else []


def dedupe_key(source: str, template: str, recipient: str, channel: Channel) -> str:
    """The unique claim of one message: (source event, template, recipient, channel)."""
    return f"{source}:{template}:{recipient}:{channel}"


def may_send(template: str, registration_status: str | None) -> bool:
    """A message still makes sense when it is sent (it may have waited in the queue)."""
    if registration_status is None:
        return False
    return template in SENT_EVEN_WHEN_ENDED or registration_status not in ENDED


def backoff_seconds(
    attempt: int,
    *,
    base: float = 2.0,
    cap: float = 600.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with full jitter: a random wait in [base·2^(n-1)/2, base·2^(n-1)],
    never above ``cap``; so many messages failing together do not retry together."""
    ceiling: float = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + rand() * ceiling / 2


def reminder_due(starts_at: datetime, at: time, timezone: str) -> datetime:
    """The reminder goes out on the day before the event, at ``at`` local time."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Asia/Tokyo")
    day_before = starts_at.astimezone(zone).date() - timedelta(days=1)
    return datetime.combine(day_before, at, tzinfo=zone)


# -- SMS ----------------------------------------------------------------------------------
# The GSM 03.38 default alphabet and its extension table (each extension character takes
# two septets). Anything else makes the whole message UCS-2.
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsText:
    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    truncated: bool


def _units(text: str) -> tuple[str, list[int]]:
    """The encoding and the size of each character in that encoding's units (septets for
    GSM-7, UTF-16 code units for UCS-2)."""
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in text):
        return "GSM-7", [2 if ch in _GSM7_EXT else 1 for ch in text]
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text]


# (single-segment limit, per-segment limit when concatenated), in units.
_LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


def segments_of(text: str) -> tuple[str, int]:
    encoding, units = _units(text)
    single, multi = _LIMITS[encoding]
    n = sum(units)
    if n <= single:
        return encoding, 1
    return encoding, -(-n // multi)


def fit_sms(text: str, max_segments: int, keep_tail: str = "") -> SmsText:
    """``text`` (+ ``keep_tail``, e.g. the manage link, which is never cut) in at most
    ``max_segments``; if it does not fit, the text is cut at a character boundary and
    ends with "…". Japanese and other scripts outside GSM-7 go as UCS-2: 70 characters
    in one segment, 67 per segment when split."""
    whole = text + keep_tail
    encoding, segments = segments_of(whole)
    if segments <= max_segments:
        return SmsText(whole, encoding, segments, False)  # type: ignore[arg-type]
    # The cut text is measured in the encoding of the whole (an ellipsis is UCS-2 only;
    # in GSM-7 three dots stand for it).
    ellipsis = "…" if encoding == "UCS-2" else "..."
    _, multi = _LIMITS[encoding]
    budget = (multi if max_segments > 1 else _LIMITS[encoding][0]) * max_segments
    _, tail_units = _units(keep_tail + ellipsis)
    room = budget - sum(tail_units)
    _, units = _units(text)
    kept, used = 0, 0
    for u in units:
        if used + u > room:
            break
        used += u
        kept += 1
    cut = text[:kept].rstrip() + ellipsis + keep_tail
    enc, segs = segments_of(cut)
    return SmsText(cut, enc, segs, True)  # type: ignore[arg-type]
