"""Checkin's rules: pure, synchronous, no I/O; time passed in.

The order of checks is the contract's: signature, event, revoked (cancelled), then the
ticket's state (already admitted, not admitted yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Result = Literal["admitted", "exited", "already_admitted", "rejected"]
Reason = Literal[
    "invalid_signature",
    "unknown_ticket",
    "cancelled",
    "wrong_event",
    "not_admitted_yet",
    "device_revoked",
]
Direction = Literal["in", "out"]

# A device clock may run a little fast; more than this ahead is a request error.
FUTURE_TOLERANCE = timedelta(minutes=5)
# A scan made this long before it reached us was made offline.
OFFLINE_AFTER = timedelta(seconds=30)


TICKET_NUMBER = re.compile(r"^[0-9A-Fa-f]{4}[\s-]?[0-9A-Fa-f]{4}[\s-]?[0-9A-Fa-f]{4}$")


def ticket_number(text: str) -> str | None:
    """The printed ticket number (12 hex digits, maybe grouped by 4), normalized; None if
    ``text`` is not one. It is typed when a QR code is too damaged to scan; it can only
    be checked against the tickets the gate knows (so not offline on the phone)."""
    text = text.strip()
    if not TICKET_NUMBER.match(text):
        return None
    return re.sub(r"[\s-]", "", text).lower()


def supersedes(incoming_revision: int, held_revision: int | None) -> bool:
    """Events may arrive out of order across replicas: only a newer revision replaces."""
    return held_revision is None or incoming_revision > held_revision


@dataclass(frozen=True)
class Presence:
    inside: bool
    entries: int


@dataclass(frozen=True)
class Decision:
    result: Result
    reason: Reason | None = None


def decide(
    direction: Direction, presence: Presence | None, *, revoked: bool, reentry: bool
) -> Decision:
    """What a scan of a genuine ticket of this event does."""
    if revoked:
        return Decision("rejected", "cancelled")
    if direction == "in":
        if presence is None:
            return Decision("admitted")
        if presence.inside or not reentry:
            return Decision("already_admitted")
        return Decision("admitted")
    if presence is None or not presence.inside:
        return Decision("rejected", "not_admitted_yet")
    return Decision("exited")


def as_utc(moment: datetime) -> datetime:
    """A device's time without a zone is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def scanned_at_error(scanned_at: datetime, received_at: datetime) -> str | None:
    """``scanned_at`` more than five minutes in the future is refused (a device with a
    wrong clock); any time in the past is fine (an offline queue syncing later). A time
    without a zone is UTC."""
    if as_utc(scanned_at) > received_at + FUTURE_TOLERANCE:
        return "in_future"
    return None
