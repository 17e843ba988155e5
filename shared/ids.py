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
