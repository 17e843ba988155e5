"""The attendee's stamp card under ``/rally/``: the card page and its live updates.

Server-rendered HTML that works without JavaScript on old phones, in twelve languages
(Japanese in easy Japanese with furigana); the script adds the live update (Server-Sent
Events) and the self-service scanner of the booths' rotating codes (jsQR, vendored in
``static/rally/vendor``). Strings live in ``services/stamprally/locale`` (domain
``messages``): after adding or changing one run ``python -m
services.stamprally.pages.catalog`` and translate what it lists
(``tests/unit/test_stamprally_catalogs.py`` fails until every language has it).
"""

from __future__ import annotations

from services.stamprally.pages import card
from services.stamprally.pages.render import html_error
from shared.openapi import Route

__all__ = ["html_error", "install", "page_routes"]

install = card.install

_CARD = "/rally/cards/{ticket_id}/{secret}"


def page_routes() -> list[Route]:
    return [
        Route("GET", _CARD, card.card_page, "Your stamp card", public_api=False),
        Route(
            "GET",
            f"{_CARD}/events",
            card.card_events,
            "Your stamp card's live updates (Server-Sent Events)",
            public_api=False,
        ),
    ]
