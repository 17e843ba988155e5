"""Stamprally's rules: pure, synchronous, no I/O.

A rally's shape and how it is checked; when a card is complete; the order in which a
booth scan and a prize-desk scan are decided; and the booth's rotating self-service code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from typing import Literal

BOOTH_KINDS = ("country", "food", "goods", "culture", "stage", "info", "organisation")
REASONS = (
    "invalid_signature",
    "wrong_event",
    "cancelled",
    "not_checked_in",
    "rally_closed",
    "wrong_booth",
    "device_revoked",
)
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
NAME_MAX = 100  # characters of a title, booth or prize name, in each language
DESCRIPTION_MAX = 300  # characters of a booth's description, in each language
Text = dict[str, str]


def supersedes(incoming_revision: int, held_revision: int | None) -> bool:
    """Only a newer description of an event replaces the one held."""
    return held_revision is None or incoming_revision > held_revision


# -- the rally ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Booth:
    code: str
    name: Text
    kind: str
    description: Text = dc_field(default_factory=dict)


@dataclass(frozen=True)
class Prize:
    code: str
    name: Text
    stock: int


@dataclass(frozen=True)
class RallyDraft:
    title: Text
    min_stamps: int
    booths: tuple[Booth, ...]
    required_booths: tuple[str, ...] = ()
    requires_checkin: bool = False
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    prizes: tuple[Prize, ...] = ()


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    params: dict[str, object] = dc_field(default_factory=dict)


def _has_text(value: Text) -> bool:
    return any(v.strip() for k, v in value.items() if k in ("ja", "en"))


def _too_long(value: Text, at: str, limit: int) -> list[Problem]:
    return [Problem(f"{at}.{lang}", "too_long") for lang, v in value.items() if len(v) > limit]


def validate_rally(r: RallyDraft) -> list[Problem]:
    """Every problem of a rally, as (dotted field, code): nothing is stored if any."""
    problems: list[Problem] = []
    if not _has_text(r.title):
        problems.append(Problem("title", "required"))
    problems += _too_long(r.title, "title", NAME_MAX)
    if not r.booths:
        problems.append(Problem("booths", "required"))
    codes = [b.code for b in r.booths]
    for i, b in enumerate(r.booths):
        if not CODE.match(b.code):
            problems.append(Problem(f"booths.{i}.code", "invalid"))
        elif codes.index(b.code) != i:
            problems.append(Problem(f"booths.{i}.code", "duplicate"))
        if b.kind not in BOOTH_KINDS:
            problems.append(Problem(f"booths.{i}.kind", "invalid"))
        if not _has_text(b.name):
            problems.append(Problem(f"booths.{i}.name", "required"))
        problems += _too_long(b.name, f"booths.{i}.name", NAME_MAX)
        problems += _too_long(b.description, f"booths.{i}.description", DESCRIPTION_MAX)
    for i, code in enumerate(r.required_booths):
        if code not in codes:
            problems.append(Problem(f"required_booths.{i}", "unknown_booth"))
    if len(set(r.required_booths)) != len(r.required_booths):
        problems.append(Problem("required_booths", "duplicate"))
    if r.min_stamps < 0 or r.min_stamps > len(codes):
        problems.append(Problem("min_stamps", "out_of_range", {"max": len(codes)}))
    if r.min_stamps == 0 and not r.required_booths:
        problems.append(Problem("min_stamps", "out_of_range", {"max": len(codes)}))
    prize_codes = [p.code for p in r.prizes]
    for i, p in enumerate(r.prizes):
        if not CODE.match(p.code):
            problems.append(Problem(f"prizes.{i}.code", "invalid"))
        elif prize_codes.index(p.code) != i:
            problems.append(Problem(f"prizes.{i}.code", "duplicate"))
        if p.stock < 0:
            problems.append(Problem(f"prizes.{i}.stock", "out_of_range"))
        if not _has_text(p.name):
            problems.append(Problem(f"prizes.{i}.name", "required"))
        problems += _too_long(p.name, f"prizes.{i}.name", NAME_MAX)
    if r.opens_at and r.closes_at and r.closes_at <= r.opens_at:
        problems.append(Problem("closes_at", "before_start"))
    return problems


def needed(min_stamps: int, required: Sequence[str]) -> int:
    """How many stamps a complete card has at least (the "M" of "N of M")."""
    return max(min_stamps, len(required))


def missing_booths(required: Sequence[str], stamped: Sequence[str]) -> list[str]:
    have = set(stamped)
    return [code for code in required if code not in have]


def is_complete(min_stamps: int, required: Sequence[str], stamped: Sequence[str]) -> bool:
    """Completed = every required booth stamped and at least ``min_stamps`` in all."""
    return not missing_booths(required, stamped) and len(set(stamped)) >= min_stamps


def is_open(opens_at: datetime | None, closes_at: datetime | None, now: datetime) -> bool:
    return (opens_at is None or now >= opens_at) and (closes_at is None or now < closes_at)


# -- decisions ----------------------------------------------------------------------------
StampResult = Literal["stamped", "already_stamped", "rejected"]
RedeemResult = Literal["redeemed", "already_redeemed", "not_completed", "out_of_stock", "rejected"]


@dataclass(frozen=True)
class StampFacts:
    """What a booth scan is decided on (read under the card's lock)."""

    signature_ok: bool
    same_event: bool
    device_revoked: bool
    rally_exists: bool
    rally_open: bool
    booth_active: bool
    ticket_revoked: bool
    requires_checkin: bool
    checked_in: bool
    already_stamped: bool


def decide_stamp(f: StampFacts) -> tuple[StampResult, str | None]:
    """The checks in the contract's order: signature, event, device, rally open, booth,
    ticket cancelled, entrance check-in, then the stamp itself."""
    if not f.signature_ok:
        return "rejected", "invalid_signature"
    if not f.same_event:
        return "rejected", "wrong_event"
    if f.device_revoked:
        return "rejected", "device_revoked"
    if not f.rally_exists or not f.rally_open:
        return "rejected", "rally_closed"
    if not f.booth_active:
        return "rejected", "wrong_booth"
    if f.ticket_revoked:
        return "rejected", "cancelled"
    if f.requires_checkin and not f.checked_in:
        return "rejected", "not_checked_in"
    if f.already_stamped:
        return "already_stamped", None
    return "stamped", None


@dataclass(frozen=True)
class RedeemFacts:
    signature_ok: bool
    same_event: bool
    device_revoked: bool
    ticket_revoked: bool
    completed: bool
    redeemed: bool
    stock_left: int


def decide_redeem(f: RedeemFacts) -> tuple[RedeemResult, str | None]:
    if not f.signature_ok:
        return "rejected", "invalid_signature"
    if not f.same_event:
        return "rejected", "wrong_event"
    if f.device_revoked:
        return "rejected", "device_revoked"
    if f.ticket_revoked:
        return "rejected", "cancelled"
    if f.redeemed:
        return "already_redeemed", None
    if not f.completed:
        return "not_completed", None
    if f.stock_left <= 0:
        return "out_of_stock", None
    return "redeemed", None


# -- the booth's rotating code -----------------------------------------------------------
BOOTH_CODE_PREFIX = "B1."
BOOTH_CODE_STEP = 30  # a new code every 30 s
BOOTH_CODE_LIFETIME = 120  # each accepted for 2 min


def _booth_mac(key: bytes, event: str, booth: str, step: int) -> bytes:
    message = (
        b"booth-code\x00" + event.encode() + b"\x00" + booth.encode() + struct.pack(">Q", step)
    )
    return hmac.new(key, message, hashlib.sha256).digest()[:16]


def booth_code(key: bytes, event: str, booth: str, now: float) -> str:
    """The code a booth tablet shows now: ``B1.<booth>.<step>.<mac>``; ``step`` is the
    30-second window it was made in."""
    step = int(now) // BOOTH_CODE_STEP
    mac = base64.urlsafe_b64encode(_booth_mac(key, event, booth, step)).decode().rstrip("=")
    return f"{BOOTH_CODE_PREFIX}{booth}.{step}.{mac}"


class InvalidBoothCode(Exception):
    def __init__(self, reason: Literal["invalid", "expired"]) -> None:
        super().__init__(reason)
        self.reason = reason


def check_booth_code(key: bytes, event: str, code: str, now: float) -> str:
    """The booth a genuine, current code names (raises :class:`InvalidBoothCode`)."""
    if not code.startswith(BOOTH_CODE_PREFIX) or len(code) > 200:
        raise InvalidBoothCode("invalid")
    parts = code[len(BOOTH_CODE_PREFIX) :].rsplit(".", 2)
    if len(parts) != 3:
        raise InvalidBoothCode("invalid")
    booth, step_text, mac_text = parts
    # Only the spelling booth_code() makes: plain ASCII digits without a leading zero, at
    # most 19 of them (so the step fits the MAC's 64 bits), and the MAC's exact base64url.
    if (
        not (step_text.isascii() and step_text.isdigit())
        or len(step_text) > 19
        or (len(step_text) > 1 and step_text[0] == "0")
    ):
        raise InvalidBoothCode("invalid")
    step = int(step_text)
    expected = base64.urlsafe_b64encode(_booth_mac(key, event, booth, step)).rstrip(b"=")
    if not hmac.compare_digest(mac_text.encode("utf-8", "replace"), expected):
        raise InvalidBoothCode("invalid")
    made = step * BOOTH_CODE_STEP
    if not (made - BOOTH_CODE_STEP <= now < made + BOOTH_CODE_LIFETIME):
        raise InvalidBoothCode("expired")
    return booth
