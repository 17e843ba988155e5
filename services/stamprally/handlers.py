"""Stamprally's HTTP edge: parse → one service call → response."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.stamprally import domain, repository, service
from services.stamprally.schemas import RallyIn, ScanIn, SelfStampIn
from shared.auth import organizer_from
from shared.devicetokens import Device, device_from
from shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from shared.http import json_response, parse_body
from shared.readmodel import known_events
from shared.runtime import RUNTIME, Runtime

__all__ = ["known_events"]


def rt_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


async def _device(request: web.Request, role: str) -> Device:
    return await device_from(request, service.keys(rt_of(request)), (role,))


def _ticket_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["ticket_id"])
    except ValueError:
        raise NotFound() from None


async def put_rally(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_from(request, service.keys(rt))
    slug = request.match_info["slug"]
    org.require(slug)
    body = await parse_body(request, RallyIn)
    draft = domain.RallyDraft(
        title=body.title,
        min_stamps=body.min_stamps,
        booths=tuple(domain.Booth(b.code, b.name, b.kind, b.description) for b in body.booths),
        required_booths=tuple(body.required_booths),
        requires_checkin=body.requires_checkin,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        prizes=tuple(domain.Prize(p.code, p.name, p.stock) for p in body.prizes),
    )
    view = await service.save_rally(rt, slug, draft)
    return json_response(view, status=201 if request.method == "POST" else 200)


async def get_rally(request: web.Request) -> web.StreamResponse:
    return json_response(await service.rally_view(rt_of(request).pool, request.match_info["slug"]))


async def post_stamp(request: web.Request) -> web.StreamResponse:
    device = await _device(request, "booth")
    body = await parse_body(request, ScanIn)
    return json_response(
        await service.stamp(
            rt_of(request), device, body.client_scan_id, body.qr_text, now=_scanned_at(body)
        )
    )


def _scanned_at(body: ScanIn) -> datetime:
    """When the booth scanned (an offline phone syncs later): the rally's hours apply to
    that time. More than 5 minutes ahead of the server is a wrong clock: 422."""
    received = datetime.now(UTC)
    at = body.scanned_at or received
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if at > received + timedelta(minutes=5):
        raise ValidationFailed([FieldError("scanned_at", "in_future")])
    return min(at, received)


async def post_redemption(request: web.Request) -> web.StreamResponse:
    device = await _device(request, "prize_desk")
    body = await parse_body(request, ScanIn)
    return json_response(
        await service.redeem(rt_of(request), device, body.client_scan_id, body.qr_text)
    )


async def get_card(request: web.Request) -> web.StreamResponse:
    secret = request.headers.get("X-Registration-Secret", "")
    card = await service.card(rt_of(request), _ticket_id(request), secret)
    return json_response(card, headers={"Cache-Control": "no-store"})


async def post_self_stamp(request: web.Request) -> web.StreamResponse:
    secret = request.headers.get("X-Registration-Secret", "")
    body = await parse_body(request, SelfStampIn)
    return json_response(
        await service.self_stamp(rt_of(request), _ticket_id(request), secret, body.booth_code)
    )


async def get_stats(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_from(request, service.keys(rt))
    slug = request.match_info["slug"]
    org.require(slug)
    return json_response(await service.stats(rt, slug))


async def get_booth_code(request: web.Request) -> web.StreamResponse:
    """The booth tablet's current code (booth devices only; the code rotates every 30 s)."""
    device = await _device(request, "booth")
    rt = rt_of(request)
    # A revoked tablet gets no more codes: a code it showed would still stamp cards.
    if await repository.device_revoked(rt.pool, device.id):
        raise Forbidden(code="device_revoked")
    now = time.time()
    code = domain.booth_code(await service.booth_key(rt), device.event, device.place, now)
    step = domain.BOOTH_CODE_STEP
    return json_response(
        {"booth": device.place, "code": code, "refresh_in": step - (now % step)},
        headers={"Cache-Control": "no-store"},
    )
