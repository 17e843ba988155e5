"""What checkin consumes, and with which handler. It publishes nothing yet: its contracts
(``checkin.admitted``, ``checkin.exited``, ``checkin.rejected``) come with the check-in
capability."""

from __future__ import annotations

from services.checkin import consumers
from shared.runtime import ConsumerBinding

CONSUMERS = [ConsumerBinding("registration", "event.published", consumers.on_event_published)]
