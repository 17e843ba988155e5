"""What notify consumes, and with which handler. Notify publishes nothing: it is the end
of the line."""

from __future__ import annotations

from services.notify import consumers
from shared.keys import KEYS_CONSUMER
from shared.runtime import ConsumerBinding

# Every fact about a registration keeps notify's recipient up to date; most also cause
# a message (domain.TEMPLATE_OF_FACT).
REGISTRATION_FACTS = (
    "registration.confirmed",
    "registration.waitlisted",
    "registration.pending_review",
    "registration.promoted",
    "registration.approved",
    "registration.rejected",
    "registration.cancelled",
    "registration.changed",
)

CONSUMERS = [
    ConsumerBinding("registration", "event.published", consumers.on_event_published),
    *(
        ConsumerBinding("registration", fact, consumers.on_registration_fact, with_runtime=True)
        for fact in REGISTRATION_FACTS
    ),
    ConsumerBinding("registration", "event.announced", consumers.on_announced, with_runtime=True),
    ConsumerBinding(
        "stamprally", "rally.completed", consumers.on_rally_completed, with_runtime=True
    ),
    ConsumerBinding("registration", "registration.erased", consumers.on_registration_erased),
    ConsumerBinding("registration", "event.erased", consumers.on_event_erased),
    KEYS_CONSUMER,
]
