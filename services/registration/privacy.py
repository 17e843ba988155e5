"""Personal data (Japan's APPI): a person's export, erasure on request, and erasure of a
whole event's personal data when its retention ends.

Erasing keeps what the organizers' counts need and nothing that names anyone: the
registration's event, category, status, party size, language and the answers to choice
and checkbox fields stay; the name, its reading, email, phone, free-text answers and the
secret go (so the capability link stops working). The idempotency records (they hold the
first answer, with the contact details) and the sent rows of the outbox ledger that carry
them are deleted too. A ``registration.erased`` or ``event.erased`` fact tells checkin,
stamprally and notify to erase their copies.

Kept in one module rather than spread over service.py and repository.py: it is the one
place to read when someone asks what Tomoni deletes, and when.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.registration import repository, service
from shared.contracts import registration as c
from shared.db import transaction
from shared.errors import NotFound
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

# Field types whose answers are categories (counted), not free text.
KEPT_FIELD_TYPES = ("choice", "checkbox")
ACTIVE = ("confirmed", "waitlisted", "pending_review")


async def export(rt: Runtime, reg_id: uuid.UUID) -> dict[str, Any]:
    """Everything registration holds about one person, for an organizer answering a
    request for disclosure (APPI art. 33)."""
    reg = await repository.get_registration(rt.pool, reg_id)
    if reg is None:
        raise NotFound()
    tickets = await rt.pool.fetch(
        "SELECT id, status, revision, issued_at, revoked_at FROM tickets"
        " WHERE registration_id = $1 ORDER BY issued_at",
        reg_id,
    )
    fields = {
        k: reg[k]
        for k in (
            "event_slug",
            "category_code",
            "status",
            "name",
            "name_kana",
            "email",
            "phone",
            "language",
            "party_size",
            "notify_by",
            "created_at",
            "updated_at",
            "erased_at",
        )
    }
    answers = reg["answers"]
    return {
        "id": str(reg_id),
        **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()},
        "answers": json.loads(answers) if isinstance(answers, str) else answers,
        "tickets": [
            {
                "id": str(t["id"]),
                "status": t["status"],
                "revision": t["revision"],
                "issued_at": t["issued_at"].isoformat(),
                "revoked_at": t["revoked_at"].isoformat() if t["revoked_at"] else None,
            }
            for t in tickets
        ],
        "note": "Messages sent to this person: GET /api/notify/notifications?registration=",
    }


async def erase(rt: Runtime, reg_id: uuid.UUID, *, by: str) -> datetime:
    """Erase one person's data: cancel first if the registration is active (its places go
    to the waiting list as with any cancellation), then erase. Erasing again changes
    nothing and answers the first time."""
    reg = await repository.get_registration(rt.pool, reg_id)
    if reg is None:
        raise NotFound()
    if reg["erased_at"] is not None:
        erased: datetime = reg["erased_at"]
        return erased
    if reg["status"] in ACTIVE:
        await service.cancel(rt, reg_id, by=by)
    async with transaction(rt.pool) as conn:
        row = await conn.fetchrow(
            "SELECT event_slug, category_code, erased_at FROM registrations"
            " WHERE id = $1 FOR UPDATE",
            reg_id,
        )
        assert row is not None
        if row["erased_at"] is not None:
            erased = row["erased_at"]
            return erased
        keep = await _kept_fields(conn, row["event_slug"])
        at: datetime = await conn.fetchval(
            _ERASE_SQL + " WHERE id = $2 RETURNING erased_at",
            keep.get(row["category_code"], []),
            reg_id,
        )
        ticket_ids = [
            r["id"]
            for r in await conn.fetch("SELECT id FROM tickets WHERE registration_id = $1", reg_id)
        ]
        await _forget_copies(conn, [reg_id])
        await service._publish(
            rt,
            conn,
            row["event_slug"],
            c.RegistrationErased(registration_id=reg_id, ticket_ids=ticket_ids, by=by),  # type: ignore[arg-type]
        )
    rt.committed()
    logger.info("personal data erased", extra={"registration": str(reg_id), "by": by})
    return at


async def erase_expired(rt: Runtime, now: datetime | None = None) -> dict[str, int]:
    """The scheduled job: erase the personal data of every event whose retention has
    ended (its end plus its ``retention_days``). Idempotent: an event is done once."""
    now = now or datetime.now(UTC)
    due = [
        r["slug"]
        for r in await rt.pool.fetch(
            "SELECT slug FROM events WHERE personal_data_erased_at IS NULL"
            " AND ends_at + make_interval(days => retention_days) < $1",
            now,
        )
    ]
    totals = {"events": 0, "registrations": 0}
    for slug in due:
        async with transaction(rt.pool) as conn:
            if await conn.fetchval(
                "SELECT personal_data_erased_at FROM events WHERE slug = $1 FOR UPDATE", slug
            ):
                continue  # another replica did it meanwhile
            keep = await _kept_fields(conn, slug)
            ids: list[uuid.UUID] = []
            for code, fields in keep.items():
                ids += [
                    r["id"]
                    for r in await conn.fetch(
                        _ERASE_SQL + " WHERE event_slug = $2 AND category_code = $3"
                        " AND erased_at IS NULL RETURNING id",
                        fields,
                        slug,
                        code,
                    )
                ]
            await _forget_copies(conn, ids)
            await conn.execute(
                "DELETE FROM outbox WHERE event_slug = $1 AND sent_at IS NOT NULL", slug
            )
            await conn.execute(
                "UPDATE events SET personal_data_erased_at = $2 WHERE slug = $1", slug, now
            )
            await service._publish(rt, conn, slug, c.EventErased(registrations=len(ids)))
        rt.committed()
        totals["events"] += 1
        totals["registrations"] += len(ids)
        logger.info(
            "retention ended: personal data erased",
            extra={"event": slug, "registrations": len(ids)},
        )
    return totals


# The erasing UPDATE: $1 = the field codes whose answers are kept.
_ERASE_SQL = """
    UPDATE registrations SET
        name = '', name_kana = NULL, email = NULL, phone = NULL,
        answers = (SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb)
                   FROM jsonb_each(answers) AS a(k, v) WHERE k = ANY($1::text[])),
        secret_hash = '\\x00'::bytea,  -- matches no secret's SHA-256: the link dies
        erased_at = now(), updated_at = now()
"""


async def _kept_fields(conn: asyncpg.Connection, slug: str) -> dict[str, list[str]]:
    """Per category of the event: the codes of its choice and checkbox fields."""
    out: dict[str, list[str]] = {}
    for r in await conn.fetch("SELECT code, fields FROM categories WHERE event_slug = $1", slug):
        fields = json.loads(r["fields"]) if isinstance(r["fields"], str) else r["fields"]
        out[r["code"]] = [f["key"] for f in fields if f.get("type") in KEPT_FIELD_TYPES]
    return out


async def _forget_copies(conn: asyncpg.Connection, reg_ids: list[uuid.UUID]) -> None:
    """The idempotency records (the first answer, with the contact) are deleted; in the
    outbox, sent or not yet sent, these people's facts lose the contact, the display name
    and the manage link. A fact not yet sent still goes out, naming no one; a replay of
    the ledger can bring nobody back."""
    if not reg_ids:
        return
    texts = [str(i) for i in reg_ids]
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE response->>'id' = ANY($1::text[])", texts
    )
    await conn.execute(_REDACT_OUTBOX_SQL, texts)


_REDACT_OUTBOX_SQL = """
    WITH rows AS (
        SELECT seq, convert_from(body, 'UTF8')::jsonb AS b FROM outbox
        WHERE convert_from(body, 'UTF8')::jsonb->'payload'->>'registration_id'
              = ANY($1::text[])
    ), redacted AS (
        SELECT seq,
               CASE WHEN b->'payload' ? 'contact' THEN jsonb_set(b, '{payload,contact}',
                   (b->'payload'->'contact')
                   || '{"name": "", "email": null, "phone": null, "notify_by": "none"}')
               ELSE b END AS b
        FROM rows
    )
    UPDATE outbox o SET body = convert_to((
        CASE WHEN r.b->'payload' ? 'display_name'
             THEN jsonb_set(r.b, '{payload,display_name}', '""') ELSE r.b END
        #- '{payload,manage_url}')::text, 'UTF8')
    FROM redacted r WHERE o.seq = r.seq
"""
