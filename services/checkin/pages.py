"""The volunteer scanner app (entrance mode), served under /scan/."""

from __future__ import annotations

from shared.openapi import Route


def page_routes() -> list[Route]:
    return []
