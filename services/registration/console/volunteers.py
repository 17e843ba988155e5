"""What organizers do for the volunteers on the day: pair their phones to a gate, booth
or prize desk (and revoke a lost one), and send an announcement to everyone registered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from services.registration import devices
from services.registration.console import queries
from services.registration.console.labels import DEVICE_STATES, ROLES, field_messages
from services.registration.console.overview import load_managed_event, notice_of
from services.registration.console.register import inline_qr
from services.registration.console.web import (
    PREFIX,
    UI,
    page,
    parse_uuid,
    redirect,
    with_notice,
)
from shared.errors import FieldError, NotFound, ValidationFailed
from shared.i18n import LANGUAGE_NAMES, LANGUAGES

MAX_SUBJECT = 200
MAX_BODY = 5000
REQUIRED_LANGUAGES = ("ja", "en")


# -- devices ----------------------------------------------------------------------------
async def _devices_page(
    ui: UI,
    slug: str,
    *,
    pairing: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    event = await load_managed_event(ui, slug)
    listed = await devices.list_devices(ui.rt, ui.org, slug)
    for d in listed:
        d["expires"] = datetime.fromisoformat(d["expires_at"])
    qr = None
    if pairing is not None:
        qr = inline_qr(pairing["pairing_url"], ui._("QR code of the pairing link"))
    return ui.render(
        "devices.html",
        status=status,
        event=event,
        devices=listed,
        pairing=pairing,
        pairing_qr=qr,
        values=values or {"role": "gate"},
        errors=errors or {},
        labels={"role": ui._("Role"), "place": ui._("Place"), "label": ui._("Label")},
        roles=ROLES,
        states=DEVICE_STATES,
        notice=notice_of(ui),
    )


@page
async def devices_page(ui: UI) -> web.StreamResponse:
    return await _devices_page(ui, ui.match("slug"))


@page
async def create_pairing(ui: UI) -> web.StreamResponse:
    """Make a pairing and show its code once: only its hash is stored, so the page that
    answers the POST is the one place the code can be read."""
    slug = ui.match("slug")
    role, place, label = ui.value("role"), ui.value("place"), ui.value("label")[:100]
    values = {"role": role, "place": place, "label": label}
    try:
        if role not in ROLES:
            raise ValidationFailed([FieldError("role", "invalid")])
        if not place:
            raise ValidationFailed([FieldError("place", "missing")])
        made = await devices.create_pairing(ui.rt, ui.org, slug, role, place, label)
    except ValidationFailed as exc:
        errors = field_messages(exc.errors, ui._)
        return await _devices_page(ui, slug, values=values, errors=errors, status=422)
    code = made["pairing_code"]
    pairing = {**made, "role": role, "place": place, "label": label}
    pairing["display_code"] = f"{code[:4]}-{code[4:]}"
    return await _devices_page(ui, slug, pairing=pairing, values={"role": role})


@page
async def revoke_device(ui: UI) -> web.StreamResponse:
    slug = ui.match("slug")
    device_id = parse_uuid(ui.match("id"))
    if await queries.device_event(ui.rt.pool, device_id) != slug:
        raise NotFound()
    await devices.revoke(ui.rt, ui.org, device_id)
    return redirect(with_notice(f"{PREFIX}/events/{slug}/devices", "revoked"))


# -- announcements ----------------------------------------------------------------------
async def _announce_page(
    ui: UI,
    slug: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    event = await load_managed_event(ui, slug)
    values = values or {}
    optional = [lang for lang in LANGUAGES if lang not in REQUIRED_LANGUAGES]
    # Keep the other languages open when the organizer wrote in them or one has an error.
    optional_open = any(
        values.get(f"{k}.{lang}") or f"{k}.{lang}" in (errors or {})
        for lang in optional
        for k in ("subject", "body")
    )
    return ui.render(
        "announce.html",
        status=status,
        event=event,
        values=values,
        errors=errors or {},
        labels={
            f"{key}.{lang}": f"{ui._(label)} ({LANGUAGE_NAMES[lang]})"
            for lang in LANGUAGES
            for key, label in (("subject", "Subject"), ("body", "Message"))
        },
        required=REQUIRED_LANGUAGES,
        optional=optional,
        optional_open=optional_open,
        sent=await queries.announcements(ui.rt.pool, slug),
        notice=notice_of(ui),
    )


@page
async def announce_page(ui: UI) -> web.StreamResponse:
    return await _announce_page(ui, ui.match("slug"))


@page
async def announce_submit(ui: UI) -> web.StreamResponse:
    """Japanese and English are required here (the service needs only one): notify
    falls back to them for every registrant whose language is not written."""
    slug = ui.match("slug")
    await load_managed_event(ui, slug)
    values = {k: v for k, v in ui.form.items() if isinstance(v, str) and k != "csrf"}
    subject: dict[str, str] = {}
    body: dict[str, str] = {}
    errs: list[FieldError] = []
    for lang in LANGUAGES:
        s, b = ui.value(f"subject.{lang}"), ui.value(f"body.{lang}")
        if len(s) > MAX_SUBJECT:
            errs.append(FieldError(f"subject.{lang}", "too_long"))
        if len(b) > MAX_BODY:
            errs.append(FieldError(f"body.{lang}", "too_long"))
        # Japanese and English always; another language fully or not at all, so nobody
        # gets a subject in their language over a body in another.
        if lang in REQUIRED_LANGUAGES or s or b:
            errs += [
                FieldError(f"{k}.{lang}", "missing")
                for k, v in (("subject", s), ("body", b))
                if not v
            ]
        if s:
            subject[lang] = s
        if b:
            body[lang] = b
    try:
        if errs:
            raise ValidationFailed(errs)
        await devices.announce(ui.rt, ui.org, slug, subject, body)
    except ValidationFailed as exc:
        errors = field_messages(exc.errors, ui._)
        return await _announce_page(ui, slug, values=values, errors=errors, status=422)
    return redirect(with_notice(f"{PREFIX}/events/{slug}/announce", "announced"))
