"""Stamprally's use cases: the rally's set-up, a booth's stamp, the goal desk's prize,
the attendee's card and the organizers' numbers; and the read models fed by the bus.

A stamp is decided in one transaction under the card's row lock: the stamp row (unique
per ticket and booth), the card's count and completion, the booth's counter, the stored
answer for retries and the facts in the outbox are committed together. A redemption
locks the card and the prize row it takes stock from.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.stamprally import domain, repository
from shared.batching import Coalescer, function_coalescer
from shared.contracts.checkin import Admitted
from shared.contracts.registration import (
    DevicePaired,
    DeviceRevoked,
    EventPublished,
    TicketIssued,
    TicketRevoked,
)
from shared.contracts.stamprally import PrizeRedeemed, RallyCompleted, StampCollected
from shared.devicetokens import Device
from shared.errors import FieldError, NotFound, ValidationFailed
from shared.events import envelope_for
from shared.ids import uuid7
from shared.keys import KeyCache
from shared.live import LiveFeed
from shared.logging import correlation_id
from shared.readmodel import keys_of
from shared.runtime import Runtime
from shared.security import InvalidTicket, same_digest, verify_ticket

LIVE = "live"
BOOTH_KEY = "booth_key"
FAST_STAMPS_PER_MINUTE = 30
QUICK_HOP_SECONDS = 10.0


def keys(rt: Runtime) -> KeyCache:
    return keys_of(rt)


def live(rt: Runtime) -> LiveFeed:
    feed: LiveFeed = rt.state[LIVE]
    return feed


async def start(rt: Runtime) -> None:
    feed = LiveFeed(
        rt.nc, rt.namespace, "stamprally", lambda slug: repository.snapshot(rt.pool, slug)
    )
    await feed.start()
    rt.state[LIVE] = feed
    if rt.settings.demo:
        from services.stamprally import demo

        rt.tasks.append(asyncio.create_task(demo.seed_when_known(rt, save_rally), name="demo"))


async def stop(rt: Runtime) -> None:
    await live(rt).stop()


def card_subject(rt: Runtime, ticket_id: uuid.UUID) -> str:
    """Core NATS subject on which a card's new state is announced after each stamp (the
    stamp card page's live updates; any replica's stamp reaches any replica's page)."""
    return f"{rt.namespace}.rally.card.{ticket_id}"


# -- read models ------------------------------------------------------------------------
async def apply_event_published(conn: asyncpg.Connection, event: EventPublished) -> bool:
    if not domain.supersedes(event.revision, await repository.held_revision(conn, event.slug)):
        return False
    await repository.store_event(conn, event)
    return True


async def apply_ticket_issued(conn: asyncpg.Connection, slug: str, t: TicketIssued) -> None:
    await repository.store_ticket(
        conn,
        ticket_id=t.ticket_id,
        event=slug,
        registration_id=t.registration_id,
        category=t.category,
        language=t.language,
        display_name=t.display_name,
        card_key=bytes.fromhex(t.card_key) if t.card_key else None,
        revision=t.revision,
    )


async def apply_ticket_revoked(conn: asyncpg.Connection, slug: str, t: TicketRevoked) -> None:
    await repository.revoke_ticket(conn, t.ticket_id, slug)


async def apply_device_paired(conn: asyncpg.Connection, slug: str, d: DevicePaired) -> None:
    await repository.store_device(
        conn,
        id=d.device_id,
        event=slug,
        role=d.role,
        place=d.place,
        label=d.label,
        expires_at=d.expires_at,
    )


async def apply_device_revoked(conn: asyncpg.Connection, d: DeviceRevoked) -> None:
    await repository.revoke_device(conn, d.device_id)


async def apply_admitted(conn: asyncpg.Connection, slug: str, a: Admitted) -> None:
    if a.ticket_id is not None:
        await repository.store_checked_in(conn, a.ticket_id, slug, a.scanned_at)


# -- set-up -----------------------------------------------------------------------------
def _problems(problems: list[domain.Problem]) -> ValidationFailed:
    return ValidationFailed([FieldError(p.field, p.code, p.params) for p in problems])


async def save_rally(rt: Runtime, slug: str, draft: domain.RallyDraft) -> dict[str, Any]:
    problems = domain.validate_rally(draft)
    if problems:
        raise _problems(problems)
    async with rt.pool.acquire() as conn, conn.transaction():
        if await repository.event(conn, slug) is None:
            raise NotFound()
        await repository.save_rally(conn, slug, draft)
    rt.state.get("rally_config", {}).pop(slug, None)
    live(rt).touch(slug)
    return await rally_view(rt.pool, slug)


async def rally_view(pool: asyncpg.Pool, slug: str) -> dict[str, Any]:
    r = await repository.rally(pool, slug)
    if r is None:
        raise NotFound()
    return {
        "event": slug,
        "title": r["title"],
        "min_stamps": r["min_stamps"],
        "required_booths": list(r["required_booths"]),
        "needed": domain.needed(r["min_stamps"], r["required_booths"]),
        "requires_checkin": r["requires_checkin"],
        "opens_at": r["opens_at"].isoformat() if r["opens_at"] else None,
        "closes_at": r["closes_at"].isoformat() if r["closes_at"] else None,
        "booths": [
            {
                "code": b["code"],
                "name": b["name"],
                "kind": b["kind"],
                "description": b["description"],
            }
            for b in await repository.booths(pool, slug)
        ],
        "prizes": [
            {
                "code": p["code"],
                "name": p["name"],
                "stock": p["stock"],
                "left": p["stock"] - p["given"],
            }
            for p in await repository.prizes(pool, slug)
        ],
    }


# -- stamps -----------------------------------------------------------------------------
_STAMP_ONE = "SELECT stamprally_stamp($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
_STAMP_MANY = (
    "SELECT stamprally_stamp_many($1::uuid[], $2::text[], $3::text[], $4::text[],"
    " $5::uuid[], $6::text[], $7::timestamptz[], $8::uuid[], $9::uuid[], $10, $11::text[])"
)
BATCHER = "stamp_batcher"


def batcher(rt: Runtime) -> Coalescer[tuple[Any, ...], Any]:
    """The booth scans' coalescer (one per process, made on first use)."""
    found: Coalescer[tuple[Any, ...], Any] | None = rt.state.get(BATCHER)
    if found is None:
        found = rt.state[BATCHER] = function_coalescer(
            lambda: rt.pool,
            _STAMP_ONE,
            _STAMP_MANY,
            scalars=frozenset({9}),  # the subject prefix
            one_extra=(False,),  # with the card's lock and the stamp's uniqueness
            name="stamprally.stamp",
        )
    return found


def _ticket_of(qr_text: str, public_keys: Any) -> Any:
    try:
        return verify_ticket(qr_text, public_keys)
    except InvalidTicket:
        return None


async def stamp(
    rt: Runtime,
    device: Device,
    client_scan_id: str,
    qr_text: str,
    *,
    now: datetime | None = None,
    unsafe_no_guard: bool = False,
) -> dict[str, Any]:
    """A booth device's scan of a ticket: the signature is checked here, everything else
    in one call of ``stamprally_stamp`` (migrations/0003_stamp_function.sql): the scan's
    claim, the decision under the card's lock, the stamp, the counters, the stored answer
    and the facts, committed together. ``unsafe_no_guard`` is the concurrency test's
    control: no card lock, and the count taken from a read instead of the insert."""
    claims = _ticket_of(qr_text, await keys(rt).get())
    reject = None
    if claims is None:
        reject = "invalid_signature"
    elif not claims.is_for(device.event):
        reject = "wrong_event"
    args = (
        device.id,
        client_scan_id,
        device.event,
        device.place,
        claims.ticket_id if claims else None,
        reject,
        now or datetime.now(UTC),
        uuid7(),
        uuid7(),
        f"{rt.namespace}.stamprally.",
        correlation_id.get(),
    )
    if unsafe_no_guard:
        answer = await rt.pool.fetchval(_STAMP_ONE, *args, True)
    else:  # booth scans arriving together go in one call (shared/batching.py)
        answer = await batcher(rt).submit(args)
    response: dict[str, Any] = dict(answer["response"] or {})
    if answer["fresh"]:
        await _after_stamp(rt, device.event, response)
    return response


async def self_stamp(
    rt: Runtime, ticket_id: uuid.UUID, secret: str, booth_code: str, *, now: float | None = None
) -> dict[str, Any]:
    """The attendee scanned a booth's rotating code from their stamp card page."""
    t = await repository.ticket(rt.pool, ticket_id)
    if t is None or not same_digest(secret, t["card_key"]):
        raise NotFound()
    try:
        booth = domain.check_booth_code(
            await booth_key(rt), t["event"], booth_code, now or time.time()
        )
    except domain.InvalidBoothCode as exc:
        return {
            "result": "rejected",
            "reason": "expired_code" if exc.reason == "expired" else "invalid_code",
        }
    async with rt.pool.acquire() as conn, conn.transaction():
        response, facts = await _stamp_in(
            rt,
            conn,
            event=t["event"],
            booth=booth,
            device_id=None,
            claims=None,
            ticket_row=t,
            now=datetime.now(UTC),
        )
        if facts:
            await rt.publish(conn, *facts)
    await _after_stamp(rt, t["event"], response)
    return response


@dataclass(frozen=True)
class RallyConfig:
    rally: Any
    active: frozenset[str]
    loaded: float


CONFIG_TTL = 2.0  # a changed rally reaches every replica's booths within 2 s


async def rally_config(rt: Runtime, conn: asyncpg.Connection, event: str) -> RallyConfig:
    """An event's rally and active booths, kept 2 s per process (every stamp needs them;
    they change a few times a year)."""
    cache: dict[str, RallyConfig] = rt.state.setdefault("rally_config", {})
    held = cache.get(event)
    if held is not None and time.monotonic() - held.loaded < CONFIG_TTL:
        return held
    r = await repository.rally(conn, event)
    active = (
        frozenset(b["code"] for b in await repository.booths(conn, event)) if r else frozenset()
    )
    held = cache[event] = RallyConfig(r, active, time.monotonic())
    return held


async def _stamp_in(  # the attendee's own scan of a booth code (booths: stamprally_stamp)
    rt: Runtime,
    conn: asyncpg.Connection,
    *,
    event: str,
    booth: str,
    device_id: uuid.UUID | None,
    claims: Any,
    now: datetime,
    ticket_row: Any = None,
) -> tuple[dict[str, Any], list[Any]]:
    """Decide and write one stamp in the caller's transaction: (answer, facts)."""
    signature_ok = ticket_row is not None or claims is not None
    ticket_id: uuid.UUID | None = (
        ticket_row["id"] if ticket_row is not None else (claims.ticket_id if claims else None)
    )
    same_event = ticket_row is not None or bool(claims and claims.is_for(event))
    config = await rally_config(rt, conn, event)
    r = config.rally
    known = await repository.scan_facts(conn, device_id, ticket_id if same_event else None)
    t = ticket_row if ticket_row is not None else known
    facts_for = dict(
        signature_ok=signature_ok,
        same_event=same_event,
        device_revoked=bool(known["device_revoked"]),
        rally_exists=r is not None,
        rally_open=bool(r and domain.is_open(r["opens_at"], r["closes_at"], now)),
        booth_active=booth in config.active,
        ticket_revoked=bool(t["revoked"]) if t is not None else False,
        requires_checkin=bool(r and r["requires_checkin"]),
        checked_in=bool(known["checked_in"]),
    )
    result, reason = domain.decide_stamp(domain.StampFacts(**facts_for, already_stamped=False))
    facts: list[Any] = []
    required = list(r["required_booths"]) if r else []
    min_stamps = r["min_stamps"] if r else 0
    stamped: list[str] = []
    completed = False
    if result == "stamped" and ticket_id is not None and r is not None:
        # The card's row lock: two booths scanning one person take turns from here, and
        # the stamps read after it are the latest committed ones.
        card = await repository.lock_card(conn, ticket_id, event)
        stamped = [s["booth"] for s in await repository.stamped_booths(conn, ticket_id)]
        result, reason = domain.decide_stamp(
            domain.StampFacts(**facts_for, already_stamped=booth in stamped)
        )
        if result == "stamped":
            inserted = await repository.add_stamp(conn, ticket_id, booth, event, device_id, now)
            if not inserted:
                result = "already_stamped"
            else:
                stamped = [*stamped, booth]
                completed = domain.is_complete(min_stamps, required, stamped)
                newly = completed and not (card and card["completed_at"])
                count = await repository.count_stamp(
                    conn, ticket_id, event, booth, now if newly else None
                )
                registration_id = t["registration_id"] if t is not None else None
                facts.append(
                    envelope_for(
                        StampCollected(
                            ticket_id=ticket_id,
                            registration_id=registration_id,
                            booth=booth,
                            device_id=device_id,
                            stamps=count,
                        ),
                        event=event,
                        correlation_id=correlation_id.get(),
                    )
                )
                if newly and registration_id is not None:
                    facts.append(
                        envelope_for(
                            RallyCompleted(
                                ticket_id=ticket_id, registration_id=registration_id, stamps=count
                            ),
                            event=event,
                            correlation_id=correlation_id.get(),
                        )
                    )
        if result == "already_stamped":
            completed = bool(card and card["completed_at"])
    response: dict[str, Any] = {"result": result}
    if reason:
        response["reason"] = reason
    if result != "rejected":
        response.update(
            booth=booth,
            stamps=len(set(stamped)),
            required=domain.needed(min_stamps, required),
            missing_booths=domain.missing_booths(required, stamped),
            completed=completed,
        )
        if t is not None and t["display_name"]:
            response["attendee"] = {"display_name": t["display_name"], "language": t["language"]}
    if ticket_id is not None:
        response["ticket_id"] = str(ticket_id)
    return response, facts


async def _after_stamp(rt: Runtime, event: str, response: dict[str, Any]) -> None:
    """After commit: wake the relay, move the live numbers, tell the card's page."""
    if response.get("result") != "stamped":
        return
    rt.committed()
    live(rt).touch(event)
    ticket_id = response.get("ticket_id")
    if ticket_id:
        await rt.nc.publish(
            card_subject(rt, uuid.UUID(ticket_id)),
            json.dumps({"booth": response.get("booth"), "stamps": response.get("stamps")}).encode(),
        )


# -- prizes -----------------------------------------------------------------------------
async def redeem(rt: Runtime, device: Device, client_scan_id: str, qr_text: str) -> dict[str, Any]:
    claims = _ticket_of(qr_text, await keys(rt).get())
    facts: list[Any] = []
    async with rt.pool.acquire() as conn, conn.transaction():
        if not await repository.claim_scan(conn, device.id, client_scan_id, "redeem"):
            return await repository.stored_answer(conn, device.id, client_scan_id) or {}
        ticket_id = claims.ticket_id if claims else None
        same_event = bool(claims and claims.is_for(device.event))
        t = await repository.ticket(conn, ticket_id) if ticket_id else None
        card = (
            await repository.lock_card(conn, ticket_id, device.event)
            if ticket_id and same_event
            else None
        )
        result, reason = domain.decide_redeem(
            domain.RedeemFacts(
                signature_ok=claims is not None,
                same_event=same_event,
                device_revoked=await repository.device_revoked(conn, device.id),
                ticket_revoked=bool(t and t["revoked"]),
                completed=bool(card and card["completed_at"]),
                redeemed=bool(card and card["redeemed_at"]),
                stock_left=await repository.stock_left(conn, device.event),
            )
        )
        response: dict[str, Any] = {"client_scan_id": client_scan_id, "result": result}
        if reason:
            response["reason"] = reason
        if result == "redeemed" and ticket_id is not None:
            prize = await repository.give_prize(conn, device.event)
            if prize is None:  # another desk took the last one since the count
                response["result"] = "out_of_stock"
            else:
                await repository.mark_redeemed(conn, ticket_id, prize["code"], device.id)
                response["prize"] = {"code": prize["code"], "name": prize["name"]}
                facts.append(
                    envelope_for(
                        PrizeRedeemed(
                            ticket_id=ticket_id,
                            registration_id=t["registration_id"] if t else None,
                            prize=prize["code"],
                            device_id=device.id,
                        ),
                        event=device.event,
                        correlation_id=correlation_id.get(),
                    )
                )
        elif result == "already_redeemed" and card is not None:
            name = await conn.fetchval(
                "SELECT name FROM prizes WHERE event = $1 AND code = $2",
                device.event,
                card["prize"],
            )
            response["prize"] = {"code": card["prize"], "name": name or {}}
            response["redeemed_at"] = card["redeemed_at"].isoformat()
        if t is not None and t["display_name"] and result != "rejected":
            response["attendee"] = {"display_name": t["display_name"], "language": t["language"]}
        if ticket_id is not None:
            response["ticket_id"] = str(ticket_id)
        await repository.record_answer(conn, device.id, client_scan_id, ticket_id, response)
        if facts:
            await rt.publish(conn, *facts)
    if facts:
        rt.committed()
        live(rt).touch(device.event)
        await rt.nc.publish(
            card_subject(rt, uuid.UUID(response["ticket_id"])),
            json.dumps({"redeemed": response.get("prize", {}).get("code")}).encode(),
        )
    return response


# -- the attendee's card ----------------------------------------------------------------
async def card(rt: Runtime, ticket_id: uuid.UUID, secret: str) -> dict[str, Any]:
    """The card of a ticket, for whoever holds the registration's secret (else 404)."""
    t = await repository.ticket(rt.pool, ticket_id)
    if t is None or not same_digest(secret, t["card_key"]):
        raise NotFound()
    r = await repository.rally(rt.pool, t["event"])
    if r is None:
        raise NotFound(code="no_rally")
    stamps = await repository.stamped_booths(rt.pool, ticket_id)
    row = await rt.pool.fetchrow("SELECT * FROM cards WHERE ticket_id = $1", ticket_id)
    required = list(r["required_booths"])
    codes = [s["booth"] for s in stamps]
    return {
        "ticket_id": str(ticket_id),
        "event": t["event"],
        "language": t["language"],
        "stamps": [{"booth": s["booth"], "at": s["at"].isoformat()} for s in stamps],
        "required": domain.needed(r["min_stamps"], required),
        "required_booths": required,
        "missing_booths": domain.missing_booths(required, codes),
        "completed": bool(row and row["completed_at"]),
        "redeemed": bool(row and row["redeemed_at"]),
        "prize": row["prize"] if row else None,
    }


# -- numbers ----------------------------------------------------------------------------
async def stats(rt: Runtime, slug: str) -> dict[str, Any]:
    event = await repository.event(rt.pool, slug)
    r = await repository.rally(rt.pool, slug)
    if event is None or r is None:
        raise NotFound()
    out = await repository.snapshot(rt.pool, slug)
    out["completions_by_hour"] = await repository.completions_by_hour(
        rt.pool, slug, event["timezone"]
    )
    out["stamp_histogram"] = await repository.stamp_histogram(rt.pool, slug, checked_in_too=True)
    out["flags"] = {
        "fast_devices": await repository.fast_devices(rt.pool, slug, FAST_STAMPS_PER_MINUTE),
        "quick_hops": await repository.quick_hops(rt.pool, slug, QUICK_HOP_SECONDS),
    }
    return out


async def booth_key(rt: Runtime) -> bytes:
    key: bytes | None = rt.state.get(BOOTH_KEY)
    if key is None:
        key = await repository.secret(rt.pool, "booth_codes")
        rt.state[BOOTH_KEY] = key
    return key


async def erase_personal_data(
    conn: asyncpg.Connection,
    *,
    ticket_ids: list[uuid.UUID] | None = None,
    event: str | None = None,
) -> None:
    """Registration erased a person (their tickets) or a whole event: forget the names
    shown to volunteers, here and in the stored answers that retries get. The counts stay."""
    arg: list[uuid.UUID] | str | None
    if ticket_ids is not None:
        where, arg = "id = ANY($1::uuid[])", ticket_ids
        answer_where = "ticket_id = ANY($1::uuid[])"
    else:
        where, arg = "event = $1", event
        answer_where = "event = $1"
    await conn.execute(f"UPDATE tickets SET display_name = NULL WHERE {where}", arg)
    await conn.execute(
        f"UPDATE scan_answers SET response = response #- '{{attendee,display_name}}'"
        f" WHERE {answer_where} AND response ? 'attendee'",
        arg,
    )
