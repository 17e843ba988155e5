"""Checkin's URL table. Health and the OpenAPI document are added by the runtime; scan
routes and the scanner app come with the check-in capability."""

from __future__ import annotations

from shared.openapi import Route


def routes() -> list[Route]:
    return []
