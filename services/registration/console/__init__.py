"""The organizer console: server-rendered pages under ``/console/`` for the city's
organizers (events, registrations, review, walk-ins, devices, announcements, the live
board).

Pages work without JavaScript; a small script in ``/console/static`` only adds comfort.
Every page is described once here; ``routes.py`` includes this list in the URL table.
"""

from __future__ import annotations

from services.registration.console import (
    auth,
    board,
    eventform,
    overview,
    register,
    registrations,
    volunteers,
)
from shared.openapi import Handler, Route

C = "/console"
E = f"{C}/events/{{slug}}"
R = f"{C}/registrations/{{id}}"


def console_routes() -> list[Route]:
    def p(method: str, path: str, handler: Handler, summary: str) -> Route:
        return Route(method, path, handler, summary, public_api=False)

    return [
        p("GET", f"{C}/login", auth.login_form, "Console login page"),
        p("POST", f"{C}/login", auth.login_submit, "Log in to the console"),
        p("POST", f"{C}/logout", auth.logout, "Log out of the console"),
        p("GET", f"{C}/language", auth.choose_language, "Choose the console's language"),
        p("GET", f"{C}/", overview.dashboard, "Events this organizer manages"),
        p("GET", C, overview.dashboard, "Events this organizer manages"),
        p("GET", f"{C}/events/new", eventform.new_event_form, "New event form"),
        p("POST", f"{C}/events/new", eventform.new_event_submit, "Create an event"),
        p("GET", E, overview.event_page, "Registrations of an event"),
        p("GET", f"{E}/live", board.board_page, "Live board of an event"),
        p("GET", f"{E}/live/stream", board.board_stream, "The live board's numbers (SSE)"),
        p("GET", f"{E}/registrations.csv", registrations.export_csv, "Registrations as CSV"),
        p("GET", f"{E}/edit", eventform.edit_event_form, "Edit event form"),
        p("POST", f"{E}/edit", eventform.edit_event_submit, "Change an event"),
        p("GET", f"{E}/register", register.register_form, "Register someone (form)"),
        p("POST", f"{E}/register", register.register_submit, "Register someone"),
        p("GET", f"{E}/devices", volunteers.devices_page, "Volunteer devices"),
        p("POST", f"{E}/devices", volunteers.create_pairing, "Make a pairing code"),
        p("POST", f"{E}/devices/{{id}}/revoke", volunteers.revoke_device, "Revoke a device"),
        p("GET", f"{E}/announce", volunteers.announce_page, "Announcement form"),
        p("POST", f"{E}/announce", volunteers.announce_submit, "Send an announcement"),
        p("POST", f"{R}/approve", registrations.approve, "Approve an application"),
        p("POST", f"{R}/reject", registrations.reject, "Reject an application"),
        p("GET", f"{R}/cancel", registrations.cancel_confirm, "Confirm a cancellation"),
        p("POST", f"{R}/cancel", registrations.cancel, "Cancel a registration"),
        p("GET", f"{R}/export", registrations.export_data, "A person's data as JSON"),
        p("GET", f"{R}/erase", registrations.erase_confirm, "Confirm erasing a person's data"),
        p("POST", f"{R}/erase", registrations.erase, "Erase a person's data"),
        p("GET", f"{R}/ticket", register.ticket, "Printable ticket"),
    ]
