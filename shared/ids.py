"""Identifiers: UUIDv7 for events and rows (time-ordered, unguessable enough for ids,
never used as secrets), and URL-safe random secrets for capabilities."""

from __future__ import annotations

import secrets
import uuid

import uuid_utils


def uuid7() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def new_secret(nbytes: int = 24) -> str:
    """A capability secret (192 bits by default), URL-safe."""
    return secrets.token_urlsafe(nbytes)


def ticket_number(ticket_id: object) -> str:
    """The number printed under a ticket's QR code, which a volunteer types when the code is
    too damaged to scan: the last 12 hex digits of the ticket id, grouped by four."""
    tail = str(ticket_id).replace("-", "")[-12:].upper()
    return f"{tail[:4]}-{tail[4:8]}-{tail[8:]}"
