"""The attendee pages (event list, event page, form, ticket, manage page)."""

from __future__ import annotations

from shared.openapi import Route


def page_routes() -> list[Route]:
    return []
