"""Checkin's HTTP edge: parse → one service call → response."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.checkin import domain, repository, service
from services.checkin.schemas import BatchIn, ScanIn
from shared.auth import organizer_from
from shared.devicetokens import Device, device_from
from shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from shared.http import json_response, parse_body, request_translator
from shared.runtime import RUNTIME, Runtime


def rt_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


# Gates scan at the entrance; booths and the prize desk run the same scanner app for the
# stamp rally (their scans go to stamprally), so they read the app's data here too.
GATE = ("gate",)
SCANNER_ROLES = ("gate", "booth", "prize_desk")


async def device_of(request: web.Request, roles: tuple[str, ...] = GATE) -> Device:
    """The scanning device (see :func:`shared.devicetokens.device_from`): 403 for a device
    whose role is not one of ``roles``. Scans at ``/api/checkin/scans`` stay gate-only."""
    return await device_from(request, service.keys(rt_of(request)), roles)


async def current_device_of(request: web.Request, roles: tuple[str, ...]) -> Device:
    """:func:`device_of`, and 403 ``device_revoked`` for a phone an organizer revoked:
    for what the scanner reads (its event, the cancelled tickets). A scan answers a
    revoked phone with ``rejected``/``device_revoked`` instead, as the contract says."""
    device = await device_of(request, roles)
    if await repository.device_revoked(rt_of(request).pool, device.id):
        raise Forbidden(code="device_revoked")
    return device


async def post_scan(request: web.Request) -> web.StreamResponse:
    device = await device_of(request)
    body = await parse_body(request, ScanIn)
    result = await service.scan(
        rt_of(request),
        device,
        service.Scan(body.client_scan_id, body.qr_text, body.direction, body.scanned_at),
        request_translator(request),
    )
    return json_response(result)


async def post_batch(request: web.Request) -> web.StreamResponse:
    """The offline queue's sync: each scan decided on its own, answers in the same order.
    Every scan is checked before any is decided, so a batch with a bad one (a clock far
    ahead) is refused whole with that scan's field named, and nothing is stored; the
    scanner then sends its scans one by one."""
    device = await device_of(request)
    body = await parse_body(request, BatchIn)
    now = datetime.now(UTC)
    wrong = [
        FieldError(f"scans.{i}.scanned_at", "in_future")
        for i, s in enumerate(body.scans)
        if s.scanned_at is not None and domain.scanned_at_error(s.scanned_at, now)
    ]
    if wrong:
        raise ValidationFailed(wrong)
    t = request_translator(request)
    rt = rt_of(request)
    results = []
    for s in body.scans:
        results.append(
            await service.scan(
                rt, device, service.Scan(s.client_scan_id, s.qr_text, s.direction, s.scanned_at), t
            )
        )
    return json_response({"results": results})


async def get_device(request: web.Request) -> web.StreamResponse:
    device = await current_device_of(request, SCANNER_ROLES)
    rt = rt_of(request)
    event = await repository.get_event(rt.pool, device.event)
    return json_response(
        {
            "device_id": str(device.id),
            "event": device.event,
            "role": device.role,
            "place": device.place,
            "event_title": event["title"] if event else None,
        }
    )


async def get_revoked(request: web.Request) -> web.StreamResponse:
    """Cancelled tickets of the device's event, for the scanner's offline checks (a booth
    checks tickets offline as a gate does)."""
    device = await current_device_of(request, SCANNER_ROLES)
    return json_response(
        {"tickets": await repository.revoked_since(rt_of(request).pool, device.event)}
    )


async def get_keys(request: web.Request) -> web.StreamResponse:
    """Checkin's copy of the public keys, so scanners (of every role) can verify offline
    even while registration is down. Public keys: no token needed."""
    return json_response(
        {"keys": await service.keys(rt_of(request)).jwks()},
        headers={"Cache-Control": "public, max-age=60"},
    )


async def get_counts(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_from(request, service.keys(rt))
    slug = request.match_info["slug"]
    org.require(slug)
    if await repository.get_event(rt.pool, slug) is None:
        raise NotFound()
    return json_response(await repository.counts(rt.pool, slug))


async def get_duplicates(request: web.Request) -> web.StreamResponse:
    """Tickets admitted offline on two devices: the second scan, for organizers to see."""
    rt = rt_of(request)
    org = await organizer_from(request, service.keys(rt))
    slug = request.match_info["slug"]
    org.require(slug)
    rows = await repository.offline_duplicates(rt.pool, slug)
    return json_response(
        {
            "items": [
                {
                    "device_id": str(r["device_id"]),
                    "client_scan_id": r["client_scan_id"],
                    "gate": r["gate"],
                    "ticket_id": str(r["ticket_id"]),
                    "scanned_at": r["scanned_at"].isoformat(),
                    "received_at": r["received_at"].isoformat(),
                }
                for r in rows
            ]
        }
    )
