"""Registration's URL table (the HTTP contract), readable at a glance."""

from __future__ import annotations

from services.registration import console, pages
from services.registration import handlers as h
from services.registration import schemas as s
from shared.openapi import Route

API = "/api/registration"
ORG = ("organizer",)


def routes() -> list[Route]:
    return [*api_routes(), *pages.page_routes(), *console.console_routes()]


def api_routes() -> list[Route]:
    return [
        Route(
            "GET",
            f"{API}/events",
            h.list_events,
            "Public events with places left",
            responses={200: s.EventList},
        ),
        Route(
            "POST",
            f"{API}/events",
            h.create_event,
            "Create an event",
            body=s.EventIn,
            responses={201: s.EventOut},
            security=ORG,
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}",
            h.get_event,
            "One public event",
            responses={200: s.EventOut},
        ),
        Route(
            "PUT",
            f"{API}/events/{{slug}}",
            h.update_event,
            "Change an event",
            body=s.EventIn,
            responses={200: s.EventOut},
            security=ORG,
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}/live",
            h.live_counts,
            "Live counts of an event as Server-Sent Events: registration, check-in, stamp "
            "rally and messages, a new snapshot within a second of any change (organizers)",
            responses={200: None, 401: None, 403: None, 404: None},
            security=("organizer",),
        ),
        Route(
            "POST",
            f"{API}/events/{{slug}}/registrations",
            h.create_registration,
            "Register (Idempotency-Key makes a retry safe)",
            body=s.RegistrationIn,
            responses={201: s.RegistrationCreated},
            headers={
                "Idempotency-Key": ({"type": "string", "minLength": 1, "maxLength": 200}, False)
            },
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}/registrations",
            h.list_registrations,
            "Registrations of an event (JSON, or CSV with Accept: text/csv or format=csv)",
            responses={200: s.RegistrationPage},
            media={200: ("text/csv",)},
            security=ORG,
            query={
                "limit": ({"type": "integer", "minimum": 1, "maximum": 500}, False),
                "cursor": ({"type": "string"}, False),
                "status": (
                    {
                        "type": "string",
                        "enum": [
                            "confirmed",
                            "waitlisted",
                            "pending_review",
                            "rejected",
                            "cancelled",
                        ],
                    },
                    False,
                ),
                "category": ({"type": "string"}, False),
                "language": ({"type": "string"}, False),
                "q": ({"type": "string", "maxLength": 200}, False),
                "format": ({"type": "string", "enum": ["json", "csv"]}, False),
            },
        ),
        Route(
            "GET",
            f"{API}/registrations/{{id}}",
            h.get_registration,
            "Your registration (X-Registration-Secret)",
            responses={200: s.RegistrationOut},
            security=("registrationSecret",),
        ),
        Route(
            "POST",
            f"{API}/registrations/{{id}}/cancel",
            h.cancel_registration,
            "Cancel (X-Registration-Secret, or an organizer)",
            responses={200: s.RegistrationOut},
            security=("registrationSecret", "organizer"),
        ),
        Route(
            "POST",
            f"{API}/registrations/{{id}}/erase",
            h.erase_registration,
            "Erase this person's data, cancelling first (X-Registration-Secret, or an"
            " organizer of the event)",
            responses={200: s.ErasedOut},
            security=("registrationSecret", "organizer"),
        ),
        Route(
            "GET",
            f"{API}/registrations/{{id}}/export",
            h.export_registration,
            "Everything registration holds about this person (organizer)",
            responses={200: s.PersonalDataOut},
            security=ORG,
        ),
        Route(
            "POST",
            f"{API}/registrations/{{id}}/approve",
            h.approve_registration,
            "Approve an application",
            responses={200: s.RegistrationOut},
            security=ORG,
        ),
        Route(
            "POST",
            f"{API}/registrations/{{id}}/reject",
            h.reject_registration,
            "Reject an application",
            responses={200: s.RegistrationOut},
            security=ORG,
        ),
        Route(
            "GET",
            f"{API}/keys",
            h.keys,
            "Public keys that verify ticket tokens",
            responses={200: s.Keys},
        ),
        Route(
            "GET",
            f"{API}/tickets/{{id}}/qr.{{fmt:png|svg}}",
            h.ticket_image,
            "A ticket's QR image (the link carries its own key)",
            public_api=False,
        ),
        Route(
            "POST",
            f"{API}/registrations/{{id}}/change",
            h.change_registration,
            "Change contact, language or party size (X-Registration-Secret)",
            body=s.ChangeIn,
            responses={200: s.RegistrationOut},
            security=("registrationSecret",),
        ),
        Route(
            "POST",
            f"{API}/events/{{slug}}/devices",
            h.create_device,
            "Make a pairing code for a gate, booth or prize desk",
            body=s.DeviceIn,
            responses={201: s.PairingOut},
            security=ORG,
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}/devices",
            h.list_devices,
            "Devices of an event",
            responses={200: s.DeviceList},
            security=ORG,
        ),
        Route(
            "POST",
            f"{API}/devices/{{id}}/revoke",
            h.revoke_device,
            "Revoke a device at once",
            responses={204: None},
            security=ORG,
        ),
        Route(
            "POST",
            f"{API}/devices/pair",
            h.pair_device,
            "Pair a volunteer's phone",
            body=s.PairIn,
            responses={200: s.PairOut},
        ),
        Route(
            "POST",
            f"{API}/events/{{slug}}/announcements",
            h.announce,
            "Announce a change to everyone registered",
            body=s.AnnouncementIn,
            responses={201: s.AnnouncementOut},
            security=ORG,
        ),
        Route(
            "POST",
            f"{API}/auth/login",
            h.login,
            "Organizer login",
            body=s.LoginIn,
            responses={200: s.LoginOut},
        ),
        Route(
            "POST",
            f"{API}/organizers",
            h.create_organizer,
            "Add an organizer (admin)",
            body=s.OrganizerIn,
            responses={201: s.OrganizerOut},
            security=ORG,
        ),
    ]
