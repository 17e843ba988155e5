"""Volunteer devices and announcements.

An organizer makes a pairing for one place (a gate, a booth, the prize desk): a short
code and a link. The volunteer's phone redeems it once for a signed device token scoped
to (event, role, place) that expires at the end of the event day. Revocation is an event
(``device.revoked``) that checkin and stamprally honour at once.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.registration import repository
from services.registration.organizers import Organizer
from services.registration.service import _publish, keyring
from shared.contracts import registration as c
from shared.db import transaction
from shared.errors import FieldError, Gone, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.runtime import Runtime
from shared.security import digest, sign_device_token

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on a phone
CODE_LENGTH = 8
PAIRING_HOURS = 12
PLACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


async def create_pairing(
    rt: Runtime, org: Organizer, slug: str, role: str, place: str, label: str
) -> dict[str, Any]:
    org.require(slug)
    event = await repository.load_event(rt.pool, slug)
    if event is None:
        raise NotFound()
    if not PLACE.match(place):
        raise ValidationFailed([FieldError("place", "invalid")])
    code = new_code()
    device_id = uuid7()
    expires = datetime.now(UTC) + timedelta(hours=PAIRING_HOURS)
    await rt.pool.execute(
        "INSERT INTO devices (id, event_slug, role, place, label, pairing_code_hash,"
        " pairing_expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        device_id,
        slug,
        role,
        place,
        label,
        digest(code),
        expires,
        org.id,
    )
    return {
        "device_id": str(device_id),
        "pairing_code": code,
        "pairing_url": f"{rt.public_url}/scan/pair?code={code}",
        "expires_at": expires.isoformat(),
    }


async def pair(rt: Runtime, code: str) -> dict[str, Any]:
    code = normalize_code(code)
    async with transaction(rt.pool) as conn:
        row = await conn.fetchrow(
            "SELECT d.*, e.ends_at FROM devices d JOIN events e ON e.slug = d.event_slug"
            " WHERE pairing_code_hash = $1 FOR UPDATE OF d",
            digest(code),
        )
        if row is None:
            raise NotFound(code="unknown_pairing_code")
        now = datetime.now(UTC)
        if row["paired_at"] is not None or row["revoked_at"] is not None:
            raise Gone(code="pairing_code_used")
        if row["pairing_expires_at"] <= now:
            raise Gone(code="pairing_code_expired")
        # The token lasts until the end of the event's day, at least 12 hours.
        expires = max(row["ends_at"] + timedelta(hours=6), now + timedelta(hours=12))
        token = sign_device_token(
            keyring(rt).active,
            {
                "d": str(row["id"]),
                "e": row["event_slug"],
                "r": row["role"],
                "p": row["place"],
                "x": int(expires.timestamp()),
            },
        )
        await conn.execute(
            "UPDATE devices SET paired_at = $2, token_expires_at = $3 WHERE id = $1",
            row["id"],
            now,
            expires,
        )
        await _publish(
            rt,
            conn,
            row["event_slug"],
            c.DevicePaired(
                device_id=row["id"],
                role=row["role"],
                place=row["place"],
                label=row["label"],
                expires_at=expires,
            ),
        )
    rt.committed()
    return {
        "device_token": token,
        "role": row["role"],
        "event": row["event_slug"],
        "place": row["place"],
        "expires_at": expires.isoformat(),
    }


async def revoke(rt: Runtime, org: Organizer, device_id: uuid.UUID) -> None:
    async with transaction(rt.pool) as conn:
        row = await conn.fetchrow("SELECT * FROM devices WHERE id = $1 FOR UPDATE", device_id)
        if row is None:
            raise NotFound()
        org.require(row["event_slug"])
        if row["revoked_at"] is not None:
            return
        await conn.execute("UPDATE devices SET revoked_at = now() WHERE id = $1", device_id)
        await _publish(rt, conn, row["event_slug"], c.DeviceRevoked(device_id=device_id))
    rt.committed()


async def list_devices(rt: Runtime, org: Organizer, slug: str) -> list[dict[str, Any]]:
    org.require(slug)
    rows = await rt.pool.fetch(
        "SELECT id, role, place, label, paired_at, token_expires_at, revoked_at,"
        " pairing_expires_at FROM devices WHERE event_slug = $1 ORDER BY created_at",
        slug,
    )
    return [
        {
            "id": str(r["id"]),
            "role": r["role"],
            "place": r["place"],
            "label": r["label"],
            "state": "revoked" if r["revoked_at"] else "paired" if r["paired_at"] else "waiting",
            "paired_at": r["paired_at"].isoformat() if r["paired_at"] else None,
            "expires_at": (r["token_expires_at"] or r["pairing_expires_at"]).isoformat(),
        }
        for r in rows
    ]


async def announce(
    rt: Runtime, org: Organizer, slug: str, subject: dict[str, str], body: dict[str, str]
) -> dict[str, Any]:
    """Publish an announcement for notify to send to everyone registered."""
    org.require(slug)
    if not await repository.event_exists(rt.pool, slug):
        raise NotFound()
    errs = []
    if not (subject.get("ja") or subject.get("en")):
        errs.append(FieldError("subject", "missing"))
    if not (body.get("ja") or body.get("en")):
        errs.append(FieldError("body", "missing"))
    if errs:
        raise ValidationFailed(errs)
    announcement_id = uuid7()
    async with transaction(rt.pool) as conn:
        await conn.execute(
            "INSERT INTO announcements (id, event_slug, subject, body, created_by)"
            " VALUES ($1, $2, $3, $4, $5)",
            announcement_id,
            slug,
            subject,
            body,
            org.id,
        )
        await _publish(
            rt,
            conn,
            slug,
            c.EventAnnounced(announcement_id=announcement_id, subject=subject, body=body),
        )
    rt.committed()
    return {"id": str(announcement_id), "event": slug, "subject": subject, "body": body}
