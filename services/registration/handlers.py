"""Registration's HTTP edge: parse → one service call → response."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import asyncpg
import qrcode
import qrcode.image.svg
from aiohttp import web
from qrcode.image.pure import PyPNGImage

from services.registration import devices, live, organizers, privacy, repository, service
from services.registration.domain import Category, Choice, EventDraft, FormField
from services.registration.organizers import Organizer
from services.registration.schemas import (
    AnnouncementIn,
    ChangeIn,
    DeviceIn,
    EventIn,
    LoginIn,
    OrganizerIn,
    PairIn,
    RegistrationIn,
)
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from shared.http import json_response, parse_body
from shared.ratelimit import RateLimiter
from shared.runtime import RUNTIME, Runtime
from shared.security import b64url, b64url_decode, same_digest

LIMITS = web.AppKey("limits", dict)


def rt_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def texts_by_sms(phone: str | None, email: str | None, notify_by: str | None) -> bool:
    """Whether a registration will be sent SMS (``notify_by`` defaults as the service
    decides: email when there is one, else SMS)."""
    if not phone:
        return False
    return notify_by in ("sms", "both") or (notify_by is None and not email)


def limit(request: web.Request, name: str) -> None:
    limiter: RateLimiter = request.app[LIMITS][name]
    limiter.hit(client_address(request))


def client_address(request: web.Request) -> str:
    """The client's address; behind the city's reverse proxy (TOMONI_TRUST_PROXY=1) the
    last address it appended to X-Forwarded-For, which a client cannot forge."""
    if request.app[RUNTIME].settings.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.remote or "unknown"


async def organizer_of(request: web.Request, *, required: bool = True) -> Organizer | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return await organizers.authenticate(rt_of(request), auth[7:].strip(), "api")
    if required:
        raise Unauthorized()
    return None


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound() from None


# -- events -----------------------------------------------------------------------------
def draft_from(body: EventIn) -> EventDraft:
    return EventDraft(
        slug=body.slug,
        kind=body.kind,
        title=body.title,
        description=body.description,
        venue=body.venue,
        venue_map_url=body.venue_map_url,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        timezone=body.timezone,
        registration_opens_at=body.registration_opens_at,
        registration_closes_at=body.registration_closes_at,
        retention_days=body.retention_days,
        public=body.public,
        categories=tuple(
            Category(
                code=c.code,
                title=c.title,
                description=c.description,
                capacity=c.capacity,
                review=c.review,
                reentry=c.reentry,
                max_party_size=c.max_party_size,
                opens_at=c.opens_at,
                closes_at=c.closes_at,
                allow_duplicates=c.allow_duplicates,
                fields=tuple(
                    FormField(
                        key=f.key,
                        type=f.type,
                        label=f.label,
                        required=f.required,
                        max_length=f.max_length,
                        choices=tuple(Choice(ch.value, ch.label) for ch in f.choices),
                    )
                    for f in c.fields
                ),
            )
            for c in body.categories
        ),
    )


async def event_out(rt: Runtime, event: EventDraft, now: datetime) -> dict[str, Any]:
    from services.registration.domain import registration_closed_reason

    counts = {r["code"]: r for r in await repository.category_counts(rt.pool, event.slug)}
    cats = []
    for c in event.categories:
        n = counts[c.code]
        cats.append(
            {
                "code": c.code,
                "title": c.title,
                "description": c.description,
                "capacity": c.capacity,
                "remaining": max(0, c.capacity - n["confirmed_people"]),
                "waitlist_length": n["waitlist_parties"],
                "waitlist_people": n["waitlist_people"],
                "registration_open": registration_closed_reason(
                    c.opens_at or event.registration_opens_at,
                    c.closes_at or event.registration_closes_at,
                    event.starts_at,
                    now,
                )
                is None,
                "review": c.review,
                "reentry": c.reentry,
                "max_party_size": c.max_party_size,
                "fields": [asdict(f) for f in c.fields],
            }
        )
    return {
        "slug": event.slug,
        "kind": event.kind,
        "title": event.title,
        "description": event.description,
        "venue": event.venue,
        "venue_map_url": event.venue_map_url,
        "starts_at": event.starts_at.isoformat(),
        "ends_at": event.ends_at.isoformat(),
        "timezone": event.timezone,
        "registration_opens_at": _iso(event.registration_opens_at),
        "registration_closes_at": _iso(event.registration_closes_at),
        "categories": cats,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def list_events(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    now = datetime.now(UTC)
    out = []
    for row in await repository.public_events(rt.pool):
        event = await repository.load_event(rt.pool, row["slug"])
        if event is not None:
            out.append(await event_out(rt, event, now))
    return json_response({"events": out})


async def get_event(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    event = await service.get_event(rt, request.match_info["slug"])
    return json_response(await event_out(rt, event, datetime.now(UTC)))


async def create_event(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_of(request)
    assert org is not None
    body = await parse_body(request, EventIn)
    exists = await repository.event_exists(rt.pool, body.slug)
    if exists:
        org.require(body.slug)
        raise Conflict(code="event_exists")
    draft = draft_from(body)
    await service.save_event(rt, draft)
    if org.role != "admin":
        await rt.pool.execute(
            "UPDATE organizers SET events = array_append(events, $2) WHERE id = $1",
            org.id,
            body.slug,
        )
    return json_response(await event_out(rt, draft, datetime.now(UTC)), status=201)


async def update_event(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_of(request)
    assert org is not None
    slug = request.match_info["slug"]
    org.require(slug)
    body = await parse_body(request, EventIn)
    if body.slug != slug:
        raise ValidationFailed([FieldError("slug", "invalid")])
    if not await repository.event_exists(rt.pool, slug):
        raise NotFound()
    draft = draft_from(body)
    await service.save_event(rt, draft)
    return json_response(await event_out(rt, draft, datetime.now(UTC)))


# -- registrations ----------------------------------------------------------------------
async def create_registration(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_of(request, required=False)
    if org is None:
        limit(request, "register")
    slug = request.match_info["slug"]
    body = await parse_body(request, RegistrationIn)
    if org is None and texts_by_sms(body.phone, body.email, body.notify_by):
        limit(request, "sms")
    if org is not None:
        org.require(slug)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200):
        raise ValidationFailed([FieldError("Idempotency-Key", "invalid")])
    status, answer = await service.register(
        rt,
        slug,
        service.RegistrationRequest(**body.model_dump()),
        idempotency_key=key,
        body_for_hash=body.model_dump(mode="json"),
        organizer_id=org.id if org else None,
    )
    return json_response(answer, status=status)


async def get_registration(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    reg = await service.find_own(
        rt, _uuid(request.match_info["id"]), request.headers.get("X-Registration-Secret", "")
    )
    return json_response(await service.view(rt, reg))


async def _owner_or_organizer(request: web.Request, reg_id: uuid.UUID) -> str:
    """Who acts on this registration: an organizer of its event (``organizer``), or the
    person with its secret (``attendee``); NotFound for anyone else."""
    rt = rt_of(request)
    org = await organizer_of(request, required=False)
    if org is None:
        await service.find_own(rt, reg_id, request.headers.get("X-Registration-Secret", ""))
        return "attendee"
    peek = await repository.get_registration(rt.pool, reg_id)
    if peek is None:
        raise NotFound()
    org.require(peek["event_slug"])
    return "organizer"


async def cancel_registration(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    reg_id = _uuid(request.match_info["id"])
    by = await _owner_or_organizer(request, reg_id)
    reg = await service.cancel(rt, reg_id, by=by)
    return json_response(await service.view(rt, reg))


async def erase_registration(request: web.Request) -> web.StreamResponse:
    """A person's data erased: by them (their secret) or by an organizer of the event
    on their request. An active registration is cancelled first."""
    rt = rt_of(request)
    reg_id = _uuid(request.match_info["id"])
    by = await _owner_or_organizer(request, reg_id)
    at = await privacy.erase(rt, reg_id, by=by)
    return json_response({"id": str(reg_id), "erased_at": at.isoformat()})


async def export_registration(request: web.Request) -> web.StreamResponse:
    """Everything registration holds about one person (organizer of the event)."""
    rt = rt_of(request)
    org = await organizer_of(request)
    assert org is not None
    reg_id = _uuid(request.match_info["id"])
    peek = await repository.get_registration(rt.pool, reg_id)
    if peek is None:
        raise NotFound()
    org.require(peek["event_slug"])
    return json_response(await privacy.export(rt, reg_id))


async def _review(request: web.Request, approve: bool) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_of(request)
    assert org is not None
    reg_id = _uuid(request.match_info["id"])
    peek = await repository.get_registration(rt.pool, reg_id)
    if peek is None:
        raise NotFound()
    org.require(peek["event_slug"])
    reg = await (service.approve(rt, reg_id) if approve else service.reject(rt, reg_id))
    return json_response(await service.view(rt, reg))


async def approve_registration(request: web.Request) -> web.StreamResponse:
    return await _review(request, True)


async def reject_registration(request: web.Request) -> web.StreamResponse:
    return await _review(request, False)


CSV_COLUMNS = [
    "id",
    "status",
    "category",
    "name",
    "name_kana",
    "email",
    "phone",
    "language",
    "party_size",
    "waitlist_position",
    "created_at",
]


async def live_counts(request: web.Request) -> web.StreamResponse:
    """The organizers' live numbers of an event, as Server-Sent Events (see live.py)."""
    rt = rt_of(request)
    org = await organizer_of(request)
    assert org is not None
    slug = request.match_info["slug"]
    org.require(slug)
    if not await repository.event_exists(rt.pool, slug):
        raise NotFound()
    return await live.stream(request, rt, slug)


async def list_registrations(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    org = await organizer_of(request)
    assert org is not None
    slug = request.match_info["slug"]
    org.require(slug)
    if not await repository.event_exists(rt.pool, slug):
        raise NotFound()
    q = request.query
    wants_csv = "text/csv" in request.headers.get("Accept", "") or q.get("format") == "csv"
    after = parse_cursor(q.get("cursor"))
    try:
        asked = int(q.get("limit", "100") or 100)
    except ValueError:
        raise ValidationFailed([FieldError("limit", "invalid")]) from None
    limit_n = 100_000 if wants_csv else min(max(asked, 1), 500)
    rows = await repository.list_registrations(
        rt.pool,
        slug,
        after=after,
        limit=limit_n + 1,
        status=q.get("status") or None,
        category=q.get("category") or None,
        language=q.get("language") or None,
        query=q.get("q") or None,
    )
    items = [registration_item(r) for r in rows[:limit_n]]
    if wants_csv:
        return web.Response(
            body=registrations_csv(items),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{slug}-registrations.csv"'},
        )
    next_cursor = None
    if len(rows) > limit_n:
        last = rows[limit_n - 1]
        next_cursor = b64url(f"{last['created_at'].isoformat()}|{last['id']}".encode())
    return json_response({"items": items, "next_cursor": next_cursor})


def registration_item(r: asyncpg.Record) -> dict[str, Any]:
    """One registration as the organizer list (JSON and CSV) shows it."""
    return {
        "id": str(r["id"]),
        "status": r["status"],
        "category": r["category_code"],
        "name": r["name"],
        "name_kana": r["name_kana"],
        "email": r["email"],
        "phone": r["phone"],
        "language": r["language"],
        "party_size": r["party_size"],
        "waitlist_position": r["position"] if r["status"] == "waitlisted" else None,
        "created_at": r["created_at"].isoformat(),
        "answers": r["answers"],
    }


def registrations_csv(items: list[dict[str, Any]]) -> bytes:
    """The CSV export: the list's columns then one per form answer; UTF-8 with a BOM so
    Excel in Japan opens it correctly; cells that would run as formulas defused."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    answer_keys = sorted({k for i in items for k in i["answers"]})
    writer.writerow(CSV_COLUMNS + [f"answers.{k}" for k in answer_keys])
    for i in items:
        writer.writerow(
            [csv_safe(i[c]) for c in CSV_COLUMNS]
            + [csv_safe(i["answers"].get(k)) for k in answer_keys]
        )
    return buf.getvalue().encode("utf-8")


def csv_safe(value: Any) -> str:
    """Cells that a spreadsheet would run as a formula are quoted with a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def parse_cursor(text: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not text:
        return None
    try:
        at, _, rid = b64url_decode(text).decode().partition("|")
        return datetime.fromisoformat(at), uuid.UUID(rid)
    except ValueError:
        raise ValidationFailed([FieldError("cursor", "invalid")]) from None


# -- tickets and keys -------------------------------------------------------------------
async def keys(request: web.Request) -> web.StreamResponse:
    return json_response(
        {"keys": service.keyring(rt_of(request)).public_jwks()},
        headers={"Cache-Control": "public, max-age=300"},
    )


async def ticket_image(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    ticket = await repository.ticket_by_id(rt.pool, _uuid(request.match_info["id"]))
    if ticket is None or not same_digest(request.query.get("k", ""), ticket["image_key_hash"]):
        raise NotFound()
    fmt = request.match_info["fmt"]
    body, ctype = qr_image(ticket["qr_text"], fmt)
    return web.Response(
        body=body,
        content_type=ctype,
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )


def qr_image(text: str, fmt: str) -> tuple[bytes, str]:
    """The ticket QR: error correction M, a quiet zone of 4 modules, black on white."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    buf = io.BytesIO()
    if fmt == "svg":
        qr.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).save(buf)
        return buf.getvalue(), "image/svg+xml"
    qr.make_image(image_factory=PyPNGImage).save(buf)
    return buf.getvalue(), "image/png"


# -- organizers -------------------------------------------------------------------------
async def login(request: web.Request) -> web.StreamResponse:
    limit(request, "login")
    body = await parse_body(request, LoginIn)
    async with account_guard(request, body.email):
        token, expires, _ = await organizers.login(rt_of(request), body.email, body.password, "api")
    return json_response({"token": token, "expires_at": expires.isoformat()})


@contextlib.asynccontextmanager
async def account_guard(request: web.Request, email: str) -> AsyncIterator[None]:
    """Refuse (429) an account that has had too many wrong passwords lately, and count a
    wrong one (Unauthorized) against it."""
    failures: RateLimiter = request.app[LIMITS]["login_account"]
    account = email.strip().lower()
    failures.check(account)
    try:
        yield
    except Unauthorized:
        with contextlib.suppress(RateLimited):
            failures.hit(account)
        raise


async def create_organizer(request: web.Request) -> web.StreamResponse:
    org = await organizer_of(request)
    assert org is not None
    if org.role != "admin":
        raise Forbidden()
    body = await parse_body(request, OrganizerIn)
    made = await organizers.create(rt_of(request), body.email, body.password, body.events)
    return json_response(
        {"id": str(made.id), "email": made.email, "role": made.role, "events": list(made.events)},
        status=201,
    )


# -- self-service change ----------------------------------------------------------------
async def change_registration(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    reg_id = _uuid(request.match_info["id"])
    await service.find_own(rt, reg_id, request.headers.get("X-Registration-Secret", ""))
    body = await parse_body(request, ChangeIn)
    reg = await service.change(rt, reg_id, service.Change(**body.model_dump()))
    return json_response(await service.view(rt, reg))


# -- devices and announcements ----------------------------------------------------------
async def create_device(request: web.Request) -> web.StreamResponse:
    org = await organizer_of(request)
    assert org is not None
    body = await parse_body(request, DeviceIn)
    made = await devices.create_pairing(
        rt_of(request), org, request.match_info["slug"], body.role, body.place, body.label
    )
    return json_response(made, status=201)


async def list_devices(request: web.Request) -> web.StreamResponse:
    org = await organizer_of(request)
    assert org is not None
    items = await devices.list_devices(rt_of(request), org, request.match_info["slug"])
    return json_response({"items": items})


async def revoke_device(request: web.Request) -> web.StreamResponse:
    org = await organizer_of(request)
    assert org is not None
    await devices.revoke(rt_of(request), org, _uuid(request.match_info["id"]))
    return web.Response(status=204)


async def pair_device(request: web.Request) -> web.StreamResponse:
    limit(request, "pair")
    body = await parse_body(request, PairIn)
    return json_response(await devices.pair(rt_of(request), body.pairing_code))


async def announce(request: web.Request) -> web.StreamResponse:
    org = await organizer_of(request)
    assert org is not None
    body = await parse_body(request, AnnouncementIn)
    made = await devices.announce(
        rt_of(request), org, request.match_info["slug"], body.subject, body.body
    )
    return json_response(made, status=201)
