"""Notify's URL table. Health and the OpenAPI document are added by the runtime."""

from __future__ import annotations

from services.notify import console
from services.notify import handlers as h
from services.notify import schemas as s
from shared.openapi import Route

ORG = ("organizer",)


def routes() -> list[Route]:
    return [
        Route(
            "GET",
            "/api/notify/events",
            h.known_events,
            "Events this service has learned over the bus (organizers)",
            responses={200: s.KnownEvents},
            security=ORG,
        ),
        Route(
            "GET",
            "/api/notify/notifications",
            h.list_notifications,
            "Every message of one registration (?registration=id): channel, template, "
            "language, status, attempts",
            responses={200: s.NotificationList, 401: None, 403: None, 404: None, 422: None},
            security=ORG,
            query={"registration": ({"type": "string", "format": "uuid"}, True)},
        ),
        Route(
            "GET",
            "/api/notify/events/{slug}/summary",
            h.event_summary,
            "How many messages of an event are queued, sent, failed, dead or skipped",
            responses={200: s.Summary, 401: None, 403: None, 404: None},
            security=ORG,
        ),
        Route(
            "GET",
            "/api/notify/events/{slug}/announcements",
            h.announcements,
            "Each announcement of an event: messages sent out of the total",
            responses={200: s.AnnouncementStats, 401: None, 403: None, 404: None},
            security=ORG,
        ),
        Route(
            "GET",
            "/api/notify/events/{slug}/settings",
            h.get_settings,
            "An event's reminder time (the day before) and stamp-rally message",
            responses={200: s.EventSettingsOut, 401: None, 403: None, 404: None},
            security=ORG,
        ),
        Route(
            "PUT",
            "/api/notify/events/{slug}/settings",
            h.put_settings,
            "Change an event's reminder time (null: none) and stamp-rally message",
            body=s.EventSettingsIn,
            responses={200: s.EventSettingsOut, 401: None, 403: None, 404: None, 422: None},
            security=ORG,
        ),
        Route(
            "GET",
            "/notify/unsubscribe",
            h.unsubscribe_form,
            "The unsubscribe link of an announcement (a page)",
            public_api=False,
        ),
        Route(
            "POST",
            "/notify/unsubscribe",
            h.unsubscribe_submit,
            "Stop announcements (the page's button, or RFC 8058 one-click)",
            public_api=False,
        ),
        Route(
            "GET",
            "/console/notify/{slug}",
            console.messages_page,
            "The organizer console's page of an event's messages",
            public_api=False,
        ),
        Route(
            "POST",
            "/console/notify/{slug}/settings",
            console.save_settings,
            "The console's form for an event's reminder and stamp-rally message",
            public_api=False,
        ),
    ]
