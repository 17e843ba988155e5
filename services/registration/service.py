"""Registration's use cases. Each owns its transaction: the state change and the events
it causes commit together (outbox), or neither does."""

from __future__ import annotations

import logging
from datetime import date

from services.registration import repository
from services.registration.domain import EventDraft, validate_event
from services.registration.events import event_published
from shared.db import advisory_key, transaction
from shared.errors import ValidationFailed
from shared.events import envelope_for
from shared.logging import correlation_id
from shared.runtime import Runtime

logger = logging.getLogger(__name__)


async def save_event(rt: Runtime, draft: EventDraft) -> int:
    """Create or change an event; publish ``event.published``. Returns its revision."""
    errors = validate_event(draft)
    if errors:
        raise ValidationFailed(errors)
    async with transaction(rt.pool) as conn:
        revision = await repository.upsert_event(conn, draft)
        await rt.publish(
            conn,
            envelope_for(
                event_published(draft, revision),
                event=draft.slug,
                correlation_id=correlation_id.get(),
            ),
        )
    rt.committed()
    return revision


async def seed_demo(rt: Runtime, today: date) -> list[str]:
    """Add the city's demo programme; events that exist already are left as they are."""
    from services.registration.demo import demo_events

    added = []
    # Replicas starting together seed once: the first holds the lock, the rest then find
    # every event present.
    async with rt.pool.acquire() as lock_conn:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", advisory_key("tomoni.demo-seed"))
        try:
            for draft in demo_events(today):
                if not await repository.event_exists(rt.pool, draft.slug):
                    await save_event(rt, draft)
                    added.append(draft.slug)
        finally:
            await lock_conn.execute(
                "SELECT pg_advisory_unlock($1)", advisory_key("tomoni.demo-seed")
            )
    if added:
        logger.info("demo events seeded", extra={"events": added})
    return added
