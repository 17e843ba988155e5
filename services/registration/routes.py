"""Registration's URL table. Health and the OpenAPI document are added by the runtime;
attendee, organizer and device routes come with the registration capability."""

from __future__ import annotations

from shared.openapi import Route


def routes() -> list[Route]:
    return []
