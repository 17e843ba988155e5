"""What registration publishes, and which of its consumers handles which contract.

Published (through the outbox): ``registration.event.published``. Consumed: nothing yet.
"""

from __future__ import annotations

from services.registration.domain import EventDraft
from shared.contracts.registration import CategorySummary, EventPublished
from shared.runtime import ConsumerBinding

CONSUMERS: list[ConsumerBinding] = []


def event_published(draft: EventDraft, revision: int) -> EventPublished:
    return EventPublished(
        slug=draft.slug,
        kind=draft.kind,
        title=draft.title,
        venue=draft.venue,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        timezone=draft.timezone,
        retention_days=draft.retention_days,
        categories=[
            CategorySummary(code=c.code, title=c.title, capacity=c.capacity, reentry=c.reentry)
            for c in draft.categories
        ],
        revision=revision,
    )
