"""Notify's HTTP edge: organizers read what was sent (and change an event's reminder and
rally message); a registrant stops announcements with the link in one."""

from __future__ import annotations

import uuid
from datetime import time
from typing import Any

from aiohttp import web

from services.notify import repository, service
from services.notify.pages import unsubscribe_page
from services.notify.schemas import EventSettingsIn
from shared.auth import OrganizerClaims, organizer_from
from shared.errors import FieldError, NotFound, ValidationFailed
from shared.http import json_response, parse_body
from shared.readmodel import keys_of, known_events
from shared.runtime import RUNTIME, Runtime

__all__ = ["known_events"]


def rt_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


async def organizer(request: web.Request) -> OrganizerClaims:
    rt = rt_of(request)
    keys = keys_of(rt)
    return await organizer_from(request, keys)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def list_notifications(request: web.Request) -> web.StreamResponse:
    org = await organizer(request)
    try:
        registration_id = uuid.UUID(request.query.get("registration", ""))
    except ValueError:
        raise ValidationFailed([FieldError("registration", "invalid")]) from None
    rt = rt_of(request)
    slug = await repository.event_of_registration(rt.pool, registration_id)
    if slug is None:
        # Nothing known of it (yet): an empty list, but only to organizers of everything.
        if org.role != "admin":
            raise NotFound()
        return json_response({"items": []})
    org.require(slug)
    rows = await repository.list_for_registration(rt.pool, registration_id)
    return json_response(
        {
            "items": [
                {
                    "id": str(r["id"]),
                    "channel": r["channel"],
                    "template": r["template"],
                    "language": r["language"],
                    "status": r["status"],
                    "attempts": r["attempts"],
                    "created_at": _iso(r["created_at"]),
                    "sent_at": _iso(r["sent_at"]),
                    "error": r["last_error"],
                    # languages sent in; for SMS, the encoding, segments and whether the
                    # text was cut to fit
                    "detail": r["detail"] or {},
                }
                for r in rows
            ]
        }
    )


async def _event_for(request: web.Request) -> str:
    org = await organizer(request)
    slug = request.match_info["slug"]
    org.require(slug)
    if await repository.event(rt_of(request).pool, slug) is None:
        raise NotFound()
    return slug


async def event_summary(request: web.Request) -> web.StreamResponse:
    slug = await _event_for(request)
    rows = await repository.summary(rt_of(request).pool, slug)
    by_status: dict[str, int] = {"queued": 0, "sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
    return json_response(
        {
            "event": slug,
            "by_status": by_status,
            "items": [
                {
                    "channel": r["channel"],
                    "template": r["template"],
                    "status": r["status"],
                    "count": r["n"],
                }
                for r in rows
            ],
        }
    )


async def announcements(request: web.Request) -> web.StreamResponse:
    slug = await _event_for(request)
    rows = await repository.announcement_stats(rt_of(request).pool, slug)
    return json_response(
        {
            "items": [
                {
                    "id": str(r["id"]),
                    "subject": r["subject"],
                    "created_at": _iso(r["created_at"]),
                    "total": r["total"],
                    "sent": r["sent"],
                    "waiting": r["waiting"],
                    "dead": r["dead"],
                    "skipped": r["skipped"],
                }
                for r in rows
            ]
        }
    )


def _settings_out(row: Any) -> dict[str, Any]:
    t = row["reminder_time"]
    return {
        "event": row["event"],
        "reminder_time": t.strftime("%H:%M") if t is not None else None,
        "rally_completed": row["rally_completed"],
    }


async def get_settings(request: web.Request) -> web.StreamResponse:
    slug = await _event_for(request)
    return json_response(_settings_out(await repository.event_settings(rt_of(request).pool, slug)))


async def put_settings(request: web.Request) -> web.StreamResponse:
    slug = await _event_for(request)
    body = await parse_body(request, EventSettingsIn)
    at = time.fromisoformat(body.reminder_time) if body.reminder_time else None
    row = await repository.save_event_settings(rt_of(request).pool, slug, at, body.rally_completed)
    return json_response(_settings_out(row))


# -- the unsubscribe link ---------------------------------------------------------------
async def unsubscribe_form(request: web.Request) -> web.StreamResponse:
    """GET shows a button and changes nothing (mail scanners open links)."""
    rt = rt_of(request)
    token = request.query.get("t", "")
    registration_id = await service.check_unsubscribe_token(rt, token)
    person = await repository.recipient(rt.pool, registration_id) if registration_id else None
    if person is None:
        return await unsubscribe_page(request, rt, None, "invalid", token, status=404)
    return await unsubscribe_page(request, rt, person, "confirm", token)


async def unsubscribe_submit(request: web.Request) -> web.StreamResponse:
    """The page's button, and RFC 8058 one-click (``List-Unsubscribe=One-Click``)."""
    rt = rt_of(request)
    form = await request.post()
    token = str(form.get("t") or request.query.get("t") or "")
    registration_id = await service.check_unsubscribe_token(rt, token)
    person = await repository.recipient(rt.pool, registration_id) if registration_id else None
    if person is None or registration_id is None:
        return await unsubscribe_page(request, rt, None, "invalid", token, status=404)
    await repository.unsubscribe(rt.pool, registration_id)
    return await unsubscribe_page(request, rt, person, "done", token)
