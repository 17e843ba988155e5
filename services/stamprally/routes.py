"""Stamprally's URL table. Health and the OpenAPI document are added by the runtime; the
capability's routes come with its issue."""

from __future__ import annotations

from shared.openapi import Route


def routes() -> list[Route]:
    return []
