"""What stamprally publishes (stream ``<NS>_STAMPRALLY``): a stamp, a completed card
(once per ticket), a prize handed out."""

from __future__ import annotations

from uuid import UUID

from shared.events import Contract, contract


@contract("stamprally", "rally.completed")
class RallyCompleted(Contract):
    """An attendee's stamp card reached the rally's rule to complete (once per ticket)."""

    ticket_id: UUID
    registration_id: UUID
    stamps: int


@contract("stamprally", "stamp.collected")
class StampCollected(Contract):
    ticket_id: UUID
    registration_id: UUID | None
    booth: str
    device_id: UUID | None  # None when the attendee scanned the booth's code themselves
    stamps: int


@contract("stamprally", "prize.redeemed")
class PrizeRedeemed(Contract):
    ticket_id: UUID
    registration_id: UUID | None
    prize: str
    device_id: UUID
