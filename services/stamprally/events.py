"""What stamprally consumes (registration's and checkin's facts) and publishes (through its
outbox: ``stamp.collected``, ``rally.completed`` once per ticket, ``prize.redeemed``)."""

from __future__ import annotations

from services.stamprally import consumers as on
from shared.keys import KEYS_CONSUMER
from shared.runtime import ConsumerBinding

CONSUMERS = [
    ConsumerBinding("registration", "event.published", on.on_event_published),
    ConsumerBinding("registration", "ticket.issued", on.on_ticket_issued),
    ConsumerBinding("registration", "ticket.revoked", on.on_ticket_revoked),
    ConsumerBinding("registration", "device.paired", on.on_device_paired),
    ConsumerBinding("registration", "device.revoked", on.on_device_revoked),
    ConsumerBinding("checkin", "checkin.admitted", on.on_admitted),
    ConsumerBinding("registration", "registration.erased", on.on_registration_erased),
    ConsumerBinding("registration", "event.erased", on.on_event_erased),
    KEYS_CONSUMER,
]
