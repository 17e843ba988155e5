"""Checkin's URL table."""

from __future__ import annotations

from services.checkin import console, pages
from services.checkin import handlers as h
from services.checkin import schemas as s
from shared.openapi import Route

API = "/api/checkin"
DEVICE = ("device",)


def routes() -> list[Route]:
    return [*api_routes(), *pages.page_routes()]


def api_routes() -> list[Route]:
    return [
        Route(
            "POST",
            f"{API}/scans",
            h.post_scan,
            "Scan a ticket at a gate",
            body=s.ScanIn,
            responses={200: s.ScanOut},
            security=DEVICE,
        ),
        Route(
            "POST",
            f"{API}/scans/batch",
            h.post_batch,
            "Sync the offline queue",
            body=s.BatchIn,
            responses={200: s.BatchOut},
            security=DEVICE,
        ),
        Route(
            "GET",
            f"{API}/device",
            h.get_device,
            "The scanning device and its place",
            responses={200: s.DeviceOut},
            security=DEVICE,
        ),
        Route(
            "GET",
            f"{API}/revoked",
            h.get_revoked,
            "Cancelled tickets of the device's event",
            responses={200: s.Revoked},
            security=DEVICE,
        ),
        Route(
            "GET",
            f"{API}/keys",
            h.get_keys,
            "Public keys that verify tickets",
            responses={200: s.Keys},
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}/counts",
            h.get_counts,
            "Live counts",
            responses={200: s.Counts},
            security=("organizer",),
        ),
        Route(
            "GET",
            f"{API}/events/{{slug}}/duplicates",
            h.get_duplicates,
            "Tickets admitted offline twice",
            security=("organizer",),
        ),
        Route(
            "GET",
            "/console/checkin/{slug}",
            console.duplicates_page,
            "The organizer console's page of tickets admitted offline twice",
            public_api=False,
        ),
    ]
