"""Payload contracts, one module per publishing service. Importing this package registers
them all, so a consumer can look a contract up by (publisher, type)."""

from shared.contracts import checkin, notify, registration, stamprally

__all__ = ["checkin", "notify", "registration", "stamprally"]
