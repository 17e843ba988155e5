"""The organizer console pages."""

from __future__ import annotations

from shared.openapi import Route


def console_routes() -> list[Route]:
    return []
