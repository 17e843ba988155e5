"""Stamprally's URL table. Health and the OpenAPI document are added by the runtime."""

from __future__ import annotations

from services.stamprally import console, pages
from services.stamprally import handlers as h
from services.stamprally import schemas as s
from shared.openapi import Route

ORG = ("organizer",)
DEVICE = ("device",)
API = "/api/stamprally"


def routes() -> list[Route]:
    return [
        Route(
            "GET",
            f"{API}/events",
            h.known_events,
            "Events this service has learned over the bus (organizers)",
            responses={200: s.KnownEvents},
            security=ORG,
        ),
        Route(
            "POST",
            f"{API}/events/{{slug}}/rally",
            h.put_rally,
            "Set up an event's stamp rally: booths, the rule to complete, prizes, hours",
            body=s.RallyIn,
            responses={201: s.RallyOut, 401: None, 403: None, 404: None, 422: None},
            security=ORG,
        ),
        Route(
            "PUT",
            f"{API}/events/{{slug}}/rally",
            h.put_rally,
            "Replace an event's rally (stamps already collected stay)",
            body=s.RallyIn,
            responses={200: s.RallyOut, 401: None, 403: None, 404: None, 422: None},
            security=ORG,
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}/rally",
            h.get_rally,
            "An event's rally, its booths and prizes with stock left (public)",
            responses={200: s.RallyOut, 404: None},
        ),
        Route(
            "POST",
            f"{API}/stamps",
            h.post_stamp,
            "A booth device scans a ticket: one stamp per ticket and booth",
            body=s.ScanIn,
            responses={200: s.StampAnswer, 400: None, 401: None, 403: None, 422: None},
            security=DEVICE,
        ),
        Route(
            "POST",
            f"{API}/redemptions",
            h.post_redemption,
            "The goal desk scans a completed card: one prize per ticket",
            body=s.ScanIn,
            responses={200: s.RedeemAnswer, 400: None, 401: None, 403: None, 422: None},
            security=DEVICE,
        ),
        Route(
            "GET",
            f"{API}/cards/{{ticket_id}}",
            h.get_card,
            "A ticket's stamp card (header X-Registration-Secret)",
            responses={200: s.Card, 404: None},
            security=("registrationSecret",),
        ),
        Route(
            "POST",
            f"{API}/cards/{{ticket_id}}/stamps",
            h.post_self_stamp,
            "The attendee scanned a booth's rotating code (header X-Registration-Secret)",
            body=s.SelfStampIn,
            responses={200: s.StampAnswer, 404: None, 422: None},
            security=("registrationSecret",),
        ),
        Route(
            "GET",
            f"{API}/booth-code",
            h.get_booth_code,
            "The booth tablet's current self-service code (booth devices)",
            responses={200: s.BoothCode, 401: None, 403: None},
            security=DEVICE,
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}/stats",
            h.get_stats,
            "Stamps per booth, completions, redemptions, prizes left, the funnel, flags",
            responses={200: s.Stats, 401: None, 403: None, 404: None},
            security=ORG,
        ),
        # The attendee's stamp card (pages, not in the OpenAPI document).
        *pages.page_routes(),
        Route(
            "GET",
            "/console/rally/{slug}",
            console.rally_page,
            "The organizer console's form of an event's stamp rally",
            public_api=False,
        ),
        Route(
            "POST",
            "/console/rally/{slug}",
            console.save_rally,
            "Save the console's stamp rally form",
            public_api=False,
        ),
    ]
