"""What stamprally consumes, and with which handler. Its own contracts
(``stamp.collected``, ``rally.completed``, ``prize.redeemed``) come with the rally."""

from __future__ import annotations

from services.stamprally import consumers
from shared.keys import KEYS_CONSUMER
from shared.runtime import ConsumerBinding

CONSUMERS = [
    ConsumerBinding("registration", "event.published", consumers.on_event_published),
    KEYS_CONSUMER,
]
