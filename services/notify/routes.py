"""Notify's URL table. Health and the OpenAPI document are added by the runtime."""

from __future__ import annotations

from services.notify import handlers as h
from services.notify import schemas as s
from shared.openapi import Route


def routes() -> list[Route]:
    return [
        Route(
            "GET",
            "/api/notify/events",
            h.known_events,
            "Events this service has learned over the bus (organizers)",
            responses={200: s.KnownEvents},
            security=("organizer",),
        ),
    ]
