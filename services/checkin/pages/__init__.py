"""The volunteer scanner app, served under ``/scan/``, in the mode of the phone's pairing:
an entrance gate (scans to checkin), a stamp rally booth or the rally's prize desk (scans
to stamprally's ``/api/stamprally/stamps`` and ``/redemptions``; a booth can also show
its rotating self-service code as a QR code, drawn by the vendored qrcode-generator).

Volunteers scan tickets with their own phones on crowded mobile networks, so the app is
a server-rendered shell plus plain JavaScript files (``static/scan/``) that:

* pair the phone with a code from the organizers (``/scan/pair?code=…``);
* decode QR codes from the rear camera (jsQR, or BarcodeDetector where present);
* verify a ticket's signature on the phone (WebCrypto Ed25519) and keep a queue of
  scans in IndexedDB, so a gate or a booth keeps working with no network and syncs
  later (the prize desk works online only: a prize must not be given twice);
* load with no network once visited (the service worker at ``/scan/sw.js``).

UI text lives in the catalogs under ``services/checkin/locale`` (domain ``messages``);
the scripts get it as JSON from ``/scan/i18n/{lang}.json``. After changing a string run
``python -m services.checkin.pages.catalog`` (see that module).
"""

from __future__ import annotations

from services.checkin.pages import views
from shared.openapi import Route

__all__ = ["page_routes"]


def page_routes() -> list[Route]:
    return [
        Route("GET", "/scan", views.to_scanner, "Scanner (redirect)", public_api=False),
        Route("GET", "/scan/", views.scanner_page, "Scanner", public_api=False),
        Route("GET", "/scan/pair", views.pair_page, "Pair this phone", public_api=False),
        Route("GET", "/scan/sw.js", views.service_worker, "Offline worker", public_api=False),
        Route(
            "GET", "/scan/i18n/{lang}.json", views.ui_strings, "Scanner strings", public_api=False
        ),
        Route("GET", "/scan/event.json", views.event_info, "The scanner's event", public_api=False),
    ]
