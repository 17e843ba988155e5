"""What stamprally publishes (stream ``<NS>_STAMPRALLY``).

``rally.completed`` is declared ahead of the stamp rally capability, because notify
(issue 6) already tells a registrant whose card is complete where to collect the prize.
"""

from __future__ import annotations

from uuid import UUID

from shared.events import Contract, contract


@contract("stamprally", "rally.completed")
class RallyCompleted(Contract):
    """An attendee's stamp card reached the rally's rule to complete (once per ticket)."""

    ticket_id: UUID
    registration_id: UUID
    stamps: int
