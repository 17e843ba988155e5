"""What notify consumes, and with which handler. Notify publishes nothing: it is the end
of the line."""

from __future__ import annotations

from services.notify import consumers
from shared.keys import KEYS_CONSUMER
from shared.runtime import ConsumerBinding

CONSUMERS = [
    ConsumerBinding("registration", "event.published", consumers.on_event_published),
    KEYS_CONSUMER,
]
