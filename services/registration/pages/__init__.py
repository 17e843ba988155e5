"""The attendee pages under ``/events/``: the events list, an event, its registration
form, and the pages of one registration (ticket, change, cancel, delete my data).

Server-rendered HTML that works without JavaScript on old phones, in twelve languages
(Japanese in easy Japanese with furigana). Catalogs: ``services/registration/locale``;
their template ``messages.pot`` is extracted from this package and the templates with
Babel, then merged into each language and translated by hand::

    # babel.cfg (anywhere; paths are relative to the repository root)
    [python: services/registration/pages/**.py]
    [jinja2: services/registration/templates/attendee/**.html]
    extensions = jinja2.ext.i18n
    trim_blocks = true
    lstrip_blocks = true

    .venv/bin/pybabel extract -F babel.cfg -k N_ --no-wrap \\
        -o services/registration/locale/messages.pot .
    .venv/bin/pybabel update -i services/registration/locale/messages.pot \\
        -d services/registration/locale -D messages

``tests/unit/test_registration_catalogs.py`` fails while any msgid lacks a translation.
"""

from __future__ import annotations

from services.registration.pages import manage, public
from shared.openapi import Route

__all__ = ["page_routes"]

_R = "/events/r/{id}/{secret}"


def page_routes() -> list[Route]:
    # The capability routes come first: ``/events/r/…`` must never be read as an event.
    return [
        Route("GET", _R, manage.ticket_page, "Your registration and ticket", public_api=False),
        Route("GET", f"{_R}/ticket.png", manage.ticket_png, "Ticket QR (PNG)", public_api=False),
        Route("POST", f"{_R}/change", manage.change, "Change your details", public_api=False),
        Route("GET", f"{_R}/change", manage.to_ticket, "Back to the ticket", public_api=False),
        Route("GET", f"{_R}/cancel", manage.cancel_page, "Confirm cancelling", public_api=False),
        Route("POST", f"{_R}/cancel", manage.cancel, "Cancel", public_api=False),
        Route("GET", f"{_R}/erase", manage.erase_page, "Confirm deleting", public_api=False),
        Route("POST", f"{_R}/erase", manage.erase, "Delete my data", public_api=False),
        Route("GET", "/events", public.to_list, "Events (redirect)", public_api=False),
        Route("GET", "/events/", public.list_page, "Events", public_api=False),
        Route("GET", "/events/{slug}", public.event_page, "An event", public_api=False),
        Route(
            "GET",
            "/events/{slug}/register/{category}",
            public.form_page,
            "Registration form",
            public_api=False,
        ),
        Route(
            "POST",
            "/events/{slug}/register/{category}",
            public.submit_form,
            "Send the registration form",
            public_api=False,
        ),
    ]
