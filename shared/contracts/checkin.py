"""What checkin publishes (stream ``<NS>_CHECKIN``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.events import Contract, contract


class _ScanFact(Contract):
    ticket_id: UUID | None
    gate: str
    device_id: UUID
    scanned_at: datetime


@contract("checkin", "checkin.admitted")
class Admitted(_ScanFact):
    people: int
    reentry: bool = False


@contract("checkin", "checkin.exited")
class Exited(_ScanFact):
    people: int


@contract("checkin", "checkin.rejected")
class Rejected(_ScanFact):
    reason: Literal[
        "invalid_signature",
        "unknown_ticket",
        "cancelled",
        "wrong_event",
        "not_admitted_yet",
        "device_revoked",
    ]
