"""Registration's use cases. Each owns its transaction: the state change and the events
it causes commit together (outbox), or neither does. Capacity is decided by one
conditional UPDATE or under the category row's lock, never read-then-write in Python.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from services.registration import domain, repository
from services.registration.domain import Applicant, Category, EventDraft, validate_event
from services.registration.events import event_published
from shared.batching import Coalescer
from shared.contracts import registration as c
from shared.db import DB_LOST, advisory_key, transaction
from shared.errors import Conflict, FieldError, NotFound, ValidationFailed
from shared.events import Contract, envelope_for
from shared.i18n import LANGUAGES
from shared.ids import new_secret, uuid7
from shared.logging import correlation_id
from shared.runtime import Runtime
from shared.security import KeyRing, digest, event_tag, same_digest, sign_ticket

logger = logging.getLogger(__name__)

KEYS = "keys"


def keyring(rt: Runtime) -> KeyRing:
    ring: KeyRing = rt.state[KEYS]
    return ring


async def load_keys(rt: Runtime) -> None:
    rt.state[KEYS] = KeyRing.load_or_create(rt.settings.data_dir / "keys")
    await publish_keys(rt)


async def publish_keys(rt: Runtime) -> None:
    """Tell every service which public keys verify tickets and tokens (on start and
    after a rotation); consumers keep the newest set."""
    ring = keyring(rt)
    fact = c.KeysPublished(
        keys=[c.PublicKey(**k) for k in ring.public_jwks()], as_of=datetime.now(UTC)
    )
    async with transaction(rt.pool) as conn:
        await _publish(rt, conn, None, fact)
    rt.committed()


async def watch_keys(rt: Runtime) -> None:
    """Sign with the newest key soon after a rotation, without a restart."""
    import asyncio

    while True:
        await asyncio.sleep(10)
        if keyring(rt).reload_if_changed():
            logger.info("ticket keys reloaded", extra={"active": keyring(rt).active.kid_text})
            while True:
                try:
                    await publish_keys(rt)
                    break
                except DB_LOST as exc:  # the database is away: publish when it is back
                    logger.warning("keys not published yet", extra={"error": type(exc).__name__})
                    await asyncio.sleep(2)


async def _publish(
    rt: Runtime, conn: asyncpg.Connection, slug: str | None, *facts: Contract
) -> None:
    await rt.publish(
        conn, *(envelope_for(f, event=slug, correlation_id=correlation_id.get()) for f in facts)
    )


# -- events -----------------------------------------------------------------------------
async def save_event(rt: Runtime, draft: EventDraft) -> int:
    """Create or change an event; publish ``event.published``. Returns its revision."""
    errors = validate_event(draft)
    if errors:
        raise ValidationFailed(errors)
    try:
        async with transaction(rt.pool) as conn:
            in_use = await conn.fetchval(
                "SELECT category_code FROM registrations WHERE event_slug = $1"
                " AND NOT (category_code = ANY($2::text[])) LIMIT 1",
                draft.slug,
                [c.code for c in draft.categories],
            )
            if in_use is not None:
                # A category that people registered for cannot disappear.
                raise Conflict(code="category_in_use")
            # A ticket names its event by a 4-byte tag of the slug, and a gate admits a
            # well-signed ticket of its event before it has heard of it: two events must
            # never share a tag (once in about four billion pairs of slugs).
            tag = event_tag(draft.slug)
            others = await conn.fetch("SELECT slug FROM events WHERE slug <> $1", draft.slug)
            if any(event_tag(r["slug"]) == tag for r in others):
                raise ValidationFailed([FieldError("slug", "invalid")])
            revision = await repository.upsert_event(conn, draft)
            await _publish(rt, conn, draft.slug, event_published(draft, revision))
            # A larger capacity gives the new places to the waiting list at once.
            for category in draft.categories:
                await repository.lock_category(conn, draft.slug, category.code)
                await _promote(rt, conn, draft.slug, category.code)
        rt.state.get(EVENT_CACHE, {}).pop(draft.slug, None)
        rt.state.get(EVENT_READS, {}).pop(draft.slug, None)
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name == "capacity_respected":
            raise Conflict(code="capacity_below_confirmed") from None
        raise
    rt.committed()
    return revision


async def seed_demo(rt: Runtime, today: date) -> list[str]:
    """Add the city's demo programme; events that exist already are left as they are."""
    from services.registration.demo import demo_events

    added = []
    # Replicas starting together seed once: the first holds the lock, the rest then find
    # every event present.
    async with rt.pool.acquire() as lock_conn:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", advisory_key("tomoni.demo-seed"))
        try:
            for draft in demo_events(today):
                if not await repository.event_exists(rt.pool, draft.slug):
                    await save_event(rt, draft)
                    added.append(draft.slug)
        finally:
            await lock_conn.execute(
                "SELECT pg_advisory_unlock($1)", advisory_key("tomoni.demo-seed")
            )
    if added:
        logger.info("demo events seeded", extra={"events": added})
    return added


async def get_event(rt: Runtime, slug: str) -> EventDraft:
    event = await repository.load_event(rt.pool, slug)
    if event is None or not event.public:
        raise NotFound()
    return event


EVENT_READS = "event_reads"
EVENT_CACHE = "event_cache"
EVENT_CACHE_SECONDS = 2.0


async def cached_event(rt: Runtime, slug: str) -> EventDraft | None:
    """An event's form and windows, read at most every two seconds per replica: a burst
    of registrations should not read the same rows thousands of times. When the two
    seconds are up, one read goes to the database and every request arriving meanwhile
    waits for that one (in a burst, the hundreds in flight all missed at once and read it
    each). Capacity is never taken from here; it is decided in the database."""
    import time

    cache: dict[str, tuple[float, EventDraft | None]] = rt.state.setdefault(EVENT_CACHE, {})
    hit = cache.get(slug)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    reading: dict[str, asyncio.Task[EventDraft | None]] = rt.state.setdefault(EVENT_READS, {})
    task = reading.get(slug)
    if task is None:

        async def read() -> EventDraft | None:
            me = asyncio.current_task()
            try:
                event = await repository.load_event(rt.pool, slug)
                if reading.get(slug) is me:  # not overtaken by a change of the event
                    cache[slug] = (time.monotonic() + EVENT_CACHE_SECONDS, event)
                return event
            finally:
                if reading.get(slug) is me:
                    reading.pop(slug, None)

        task = reading[slug] = asyncio.get_running_loop().create_task(read())
    return await asyncio.shield(task)


# -- registering ------------------------------------------------------------------------
@dataclass(frozen=True)
class RegistrationRequest:
    category: str
    name: str
    language: str
    party_size: int = 1
    name_kana: str | None = None
    email: str | None = None
    phone: str | None = None
    answers: dict[str, Any] | None = None
    notify_by: str | None = None


def validate_request(
    event: EventDraft, req: RegistrationRequest, now: datetime, *, staff: bool = False
) -> tuple[Category, Applicant]:
    """Every problem at once, as field errors; or the normalized applicant."""
    errs: list[FieldError] = []
    category = next((x for x in event.categories if x.code == req.category), None)
    if category is None:
        raise ValidationFailed([FieldError("category", "unknown")])
    reason = domain.registration_closed_reason(
        category.opens_at or event.registration_opens_at,
        category.closes_at or event.registration_closes_at,
        event.starts_at,
        now,
    )
    if reason and not staff:
        raise Conflict(code=reason)
    name = " ".join(req.name.split())
    if not name:
        errs.append(FieldError("name", "missing"))
    if req.language not in LANGUAGES:
        errs.append(FieldError("language", "unknown"))
    if not 1 <= req.party_size <= category.max_party_size:
        errs.append(FieldError("party_size", "too_large" if req.party_size > 1 else "invalid"))
    email = phone = None
    if req.email:
        try:
            email = domain.normalize_email(req.email)
        except ValueError:
            errs.append(FieldError("email", "invalid"))
    if req.phone:
        try:
            phone = domain.normalize_phone(req.phone)
        except ValueError:
            errs.append(FieldError("phone", "invalid"))
    if not req.email and not req.phone and not staff:
        errs.append(FieldError("email", "contact_missing"))
    notify_by = req.notify_by or ("email" if req.email else "sms" if req.phone else "none")
    if notify_by in ("email", "both") and not req.email and not errs:
        errs.append(FieldError("email", "missing"))
    if notify_by in ("sms", "both") and not req.phone and not errs:
        errs.append(FieldError("phone", "missing"))
    answers, answer_errs = domain.check_answers(category.fields, req.answers or {})
    errs += answer_errs
    if errs:
        raise ValidationFailed(errs)
    return category, Applicant(
        category=category.code,
        name=name,
        name_kana=(req.name_kana or "").strip() or None,
        email=email,
        phone=phone,
        language=req.language,
        party_size=req.party_size,
        answers=answers,
        notify_by=notify_by,  # type: ignore[arg-type]
    )


def request_hash(slug: str, body: dict[str, Any]) -> bytes:
    return hashlib.sha256(json.dumps([slug, body], sort_keys=True, default=str).encode()).digest()


def manage_url(rt: Runtime, reg_id: uuid.UUID, secret: str) -> str:
    return f"{rt.public_url}/events/r/{reg_id}/{secret}"


def _contact(reg: asyncpg.Record) -> c.Contact:
    return c.Contact(
        name=reg["name"],
        email=reg["email"],
        phone=reg["phone"],
        language=reg["language"],
        notify_by=reg["notify_by"],
    )


def _replay_answer(stored: asyncpg.Record, fingerprint: bytes) -> tuple[int, dict[str, Any]]:
    """The first answer for a key, if this request is the same one."""
    if bytes(stored["request_hash"]) != fingerprint:
        raise ValidationFailed([FieldError("Idempotency-Key", "idempotency_key_reused")])
    return int(stored["status"]), dict(stored["response"])


def _fact(reg: Any, url: str | None) -> dict[str, Any]:
    return {
        "registration_id": reg["id"],
        "category": reg["category_code"],
        "party_size": reg["party_size"],
        "contact": _contact(reg),
        "manage_url": url,
    }


@dataclass(frozen=True)
class NewTicket:
    row: dict[str, Any]  # the tickets row to insert
    view: dict[str, Any]  # the API's ticket object, image links with their own key
    issued: c.TicketIssued
    info: c.TicketInfo


def _new_ticket(rt: Runtime, reg: Any, revision: int = 1) -> NewTicket:
    """Sign a ticket for a registration (nothing written yet)."""
    key = keyring(rt).active
    ticket_id = uuid7()
    qr_text = sign_ticket(key, ticket_id, reg["event_slug"])
    image_key = new_secret(16)
    issued = c.TicketIssued(
        ticket_id=ticket_id,
        registration_id=reg["id"],
        category=reg["category_code"],
        party_size=reg["party_size"],
        display_name=domain.display_name(reg["name"]),
        language=reg["language"],
        kid=key.kid_text,
        revision=revision,
        card_key=bytes(reg["secret_hash"]).hex() if reg.get("secret_hash") else None,
    )
    return NewTicket(
        row={
            "id": ticket_id,
            "registration_id": reg["id"],
            "event_slug": reg["event_slug"],
            "kid": key.kid_text,
            "qr_text": qr_text,
            "image_key_hash": digest(image_key),
            "status": "active",
        },
        view=ticket_view(ticket_id, qr_text, image_key),
        issued=issued,
        info=c.TicketInfo(id=ticket_id, qr_text=qr_text),
    )


async def _issue_ticket(
    rt: Runtime, conn: asyncpg.Connection, reg: asyncpg.Record, revision: int = 1
) -> tuple[dict[str, Any], c.TicketIssued, c.TicketInfo]:
    """Sign and store a ticket for a confirmed registration. Returns the API view, the
    ``ticket.issued`` fact and the ticket info."""
    t = _new_ticket(rt, reg, revision)
    await repository.insert_ticket(conn, **t.row)
    return t.view, t.issued, t.info


def ticket_view(ticket_id: uuid.UUID, qr_text: str, image_key: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {"id": str(ticket_id), "qr_text": qr_text}
    if image_key:
        base = f"/api/registration/tickets/{ticket_id}/qr"
        view["qr_png_url"] = f"{base}.png?k={image_key}"
        view["qr_svg_url"] = f"{base}.svg?k={image_key}"
    return view


async def register(
    rt: Runtime,
    slug: str,
    req: RegistrationRequest,
    *,
    idempotency_key: str | None = None,
    body_for_hash: dict[str, Any] | None = None,
    organizer_id: uuid.UUID | None = None,
    now: datetime | None = None,
    unsafe_no_capacity_lock: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Register one party. Returns (HTTP status, answer). With an idempotency key, the same
    key and body return the first answer and store nothing new.

    ``unsafe_no_capacity_lock`` exists for the concurrency test's control run only: it
    decides capacity by reading and then writing, which oversells."""
    now = now or datetime.now(UTC)
    event = await cached_event(rt, slug)
    if event is None or (not event.public and organizer_id is None):
        raise NotFound()
    category, applicant = validate_request(event, req, now, staff=organizer_id is not None)
    key = f"{slug}:{idempotency_key}" if idempotency_key else None
    fingerprint = request_hash(slug, body_for_hash or req.__dict__)
    secret = new_secret()
    reg_id = uuid7()
    url = manage_url(rt, reg_id, secret)
    values = {
        "id": reg_id,
        "event_slug": slug,
        "category_code": category.code,
        "status": domain.first_status(category.review, True),
        "name": applicant.name,
        "name_kana": applicant.name_kana,
        "email": applicant.email,
        "phone": applicant.phone,
        "language": applicant.language,
        "party_size": applicant.party_size,
        "answers": applicant.answers,
        "notify_by": applicant.notify_by,
        "secret_hash": digest(secret),
        "dup_guard": not category.allow_duplicates,
        "created_by": organizer_id,
    }
    answer: dict[str, Any] = {"id": str(reg_id), "manage_url": url, "secret": secret}
    fact = _fact(values, url)
    if key is not None:
        stored = await repository.stored_answer(rt.pool, key)
        if stored is not None and stored["response"] is not None:
            return _replay_answer(stored, fingerprint)
    try:
        if category.review or unsafe_no_capacity_lock:
            async with transaction(rt.pool) as conn:
                if key is not None and not await repository.claim_idempotency_key(
                    conn, key, fingerprint
                ):
                    stored = await repository.stored_answer(conn, key)
                    assert stored is not None
                    return _replay_answer(stored, fingerprint)
                reg = await repository.insert_registration(conn, **values)
                if category.review:
                    await repository.adjust_counters(
                        conn, slug, category.code, pending=reg["party_size"]
                    )
                    await _publish(rt, conn, slug, c.RegistrationPendingReview(**fact))
                    answer["status"] = "pending_review"
                else:
                    answer.update(await _unsafe_register(rt, conn, reg, fact))
                if key is not None:
                    await repository.store_answer(conn, key, 201, answer)
        else:
            # Decided and written in one autocommit statement (registration, ticket,
            # facts, stored answer): nothing waits on this process while the lock is held.
            answer.update(await _decide(rt, values, fact, answer, key, fingerprint))
    except asyncpg.UniqueViolationError as exc:
        if key is not None:
            # A concurrent request with the same key committed first: whichever unique
            # index noticed (the key's, or the email's), the answer is the first one.
            stored = await repository.stored_answer(rt.pool, key)
            if stored is not None and stored["response"] is not None:
                return _replay_answer(stored, fingerprint)
        if exc.constraint_name in ("one_active_per_email", "one_active_per_phone"):
            raise Conflict(code="duplicate_registration") from None
        raise
    rt.committed()
    logger.info(
        "registration stored",
        extra={"registration": str(reg_id), "event": slug, "status": answer["status"]},
    )
    return 201, answer


FULL_HINT = "full_categories"
BATCHER = "register_batcher"


def batcher(rt: Runtime) -> Coalescer[repository.RegisterArgs, tuple[bool, int] | None]:
    """The registrations' coalescer (one per process, made on first use): while one batch
    holds a category's row, the next registrations queue and then take it once together."""
    found: Coalescer[repository.RegisterArgs, tuple[bool, int] | None] | None = rt.state.get(
        BATCHER
    )
    if found is None:
        found = rt.state[BATCHER] = Coalescer(
            lambda batch: repository.register_many(rt.pool, batch),
            lambda args: repository.register_one(rt.pool, args),
            name="registration.register",
        )
    return found


async def _decide(
    rt: Runtime,
    values: dict[str, Any],
    fact: dict[str, Any],
    answer: dict[str, Any],
    key: str | None,
    fingerprint: bytes,
) -> dict[str, Any]:
    """The outcomes prepared here; the decision and every write in one statement
    (``registration_register``; registrations arriving together go in one call,
    see shared/batching.py). Returns what to add to the answer.

    While a category was full at its last decision in this process, only the waiting-list
    outcome is prepared (no ticket signed for nothing); if the database then finds a
    place after all, it writes nothing and says so, and both outcomes are prepared."""
    slug = values["event_slug"]
    hint: set[tuple[str, str]] = rt.state.setdefault(FULL_HINT, set())
    where = (slug, values["category_code"])
    cid = correlation_id.get()
    ns = rt.namespace
    waitlisted = envelope_for(
        c.RegistrationWaitlisted(**fact, position=0), event=slug, correlation_id=cid
    )
    waiting_row = (
        waitlisted.id,
        waitlisted.subject(ns),
        waitlisted.type,
        waitlisted.model_dump_json().encode(),
        False,
        True,
    )
    if_waitlisted = {**answer, "status": "waitlisted", "waitlist_position": 0}
    for can_confirm in (False, True) if where in hint else (True,):
        ticket = _new_ticket(rt, values) if can_confirm else None
        rows = [waiting_row]
        if ticket is not None:
            confirmed = [
                envelope_for(
                    c.RegistrationConfirmed(**fact, ticket=ticket.info),
                    event=slug,
                    correlation_id=cid,
                ),
                envelope_for(ticket.issued, event=slug, correlation_id=cid),
            ]
            rows = [
                (e.id, e.subject(ns), e.type, e.model_dump_json().encode(), True, False)
                for e in confirmed
            ] + rows
        args = repository.register_args(
            registration=values,
            ticket=ticket.row if ticket else None,
            outbox_rows=rows,
            correlation_id=cid,
            idempotency=(key, fingerprint) if key else None,
            answers=(
                {**answer, "status": "confirmed", "ticket": ticket.view if ticket else None},
                if_waitlisted,
            ),
        )
        decided = await batcher(rt).submit(args)
        if decided is None:
            continue  # a place was free after all: prepare the ticket and decide again
        fits, queue = decided
        rt.committed()
        if fits:
            hint.discard(where)
            assert ticket is not None
            return {"status": "confirmed", "ticket": ticket.view}
        hint.add(where)
        return {"status": "waitlisted", "waitlist_position": queue}
    raise RuntimeError("registration undecided")  # unreachable: the last try can confirm


async def _unsafe_register(
    rt: Runtime, conn: asyncpg.Connection, reg: asyncpg.Record, fact: dict[str, Any]
) -> dict[str, Any]:
    """The control run's registration: capacity read, then written (oversells)."""
    slug, code = reg["event_slug"], reg["category_code"]
    fits, queue = await _unsafe_read_then_write(conn, slug, code, reg["party_size"])
    if fits:
        view, issued, info = await _issue_ticket(rt, conn, reg)
        await _publish(rt, conn, slug, c.RegistrationConfirmed(**fact, ticket=info), issued)
        return {"status": "confirmed", "ticket": view}
    await repository.set_status(conn, reg["id"], "waitlisted", waitlisted=True)
    await _publish(rt, conn, slug, c.RegistrationWaitlisted(**fact, position=queue))
    return {"status": "waitlisted", "waitlist_position": queue}


async def _unsafe_read_then_write(
    conn: asyncpg.Connection, slug: str, code: str, people: int
) -> tuple[bool, int]:
    """The bug the capacity test must catch: check, then write, without a lock."""
    row = await conn.fetchrow(
        "SELECT capacity, confirmed_people FROM categories WHERE event_slug=$1 AND code=$2",
        slug,
        code,
    )
    assert row is not None
    if row["confirmed_people"] + people > row["capacity"]:
        await conn.execute(
            "UPDATE categories SET waitlist_people = waitlist_people + $3,"
            " waitlist_parties = waitlist_parties + 1"
            " WHERE event_slug=$1 AND code=$2",
            slug,
            code,
            people,
        )
        queue = await conn.fetchval(
            "SELECT waitlist_parties FROM categories WHERE event_slug=$1 AND code=$2", slug, code
        )
        return False, int(queue)
    import asyncio

    await asyncio.sleep(0.005)  # the gap in which another request reads the same count
    await conn.execute(
        "UPDATE categories SET confirmed_people = $3 WHERE event_slug=$1 AND code=$2",
        slug,
        code,
        row["confirmed_people"] + people,
    )
    return True, 0


# -- the attendee's own registration ----------------------------------------------------
async def find_own(rt: Runtime, reg_id: uuid.UUID, secret: str) -> asyncpg.Record:
    """The registration if ``secret`` is its own; NotFound otherwise (no enumeration)."""
    reg = await repository.get_registration(rt.pool, reg_id)
    if reg is None or not same_digest(secret, reg["secret_hash"]):
        raise NotFound()
    return reg


async def view(rt: Runtime, reg: asyncpg.Record) -> dict[str, Any]:
    ticket = await repository.active_ticket(rt.pool, reg["id"])
    out: dict[str, Any] = {
        "id": str(reg["id"]),
        "event": reg["event_slug"],
        "category": reg["category_code"],
        "status": reg["status"],
        "name": reg["name"],
        "name_kana": reg["name_kana"],
        "email": reg["email"],
        "phone": reg["phone"],
        "language": reg["language"],
        "party_size": reg["party_size"],
        "answers": reg["answers"],
        "notify_by": reg["notify_by"],
        "waitlist_position": await repository.waitlist_position(rt.pool, reg),
        "created_at": reg["created_at"].isoformat(),
        "ticket": None,
    }
    if ticket is not None:
        out["ticket"] = {"id": str(ticket["id"]), "qr_text": ticket["qr_text"]}
    return out


async def cancel(rt: Runtime, reg_id: uuid.UUID, *, by: str) -> asyncpg.Record:
    """Cancel; free the places and promote whoever fits next, in the same transaction.
    Cancelling a cancelled registration changes nothing (a retry is harmless)."""
    return await _end(rt, reg_id, new_status="cancelled", by=by)


async def reject(rt: Runtime, reg_id: uuid.UUID) -> asyncpg.Record:
    return await _end(rt, reg_id, new_status="rejected", by="organizer")


async def _end(rt: Runtime, reg_id: uuid.UUID, *, new_status: str, by: str) -> asyncpg.Record:
    peek = await repository.get_registration(rt.pool, reg_id)
    if peek is None:
        raise NotFound()
    slug, code = peek["event_slug"], peek["category_code"]
    async with transaction(rt.pool) as conn:
        await repository.lock_category(conn, slug, code)
        reg = await repository.get_registration(conn, reg_id, lock=True)
        assert reg is not None
        allowed = domain.can_cancel if new_status == "cancelled" else domain.can_reject
        if not allowed(reg["status"]):
            if reg["status"] == new_status:
                return reg
            raise Conflict(code="not_allowed_in_this_status")
        previous = reg["status"]
        updated = await repository.set_status(conn, reg_id, new_status)
        size = reg["party_size"]
        await repository.adjust_counters(
            conn,
            slug,
            code,
            confirmed=-size if previous == "confirmed" else 0,
            waitlist=-size if previous == "waitlisted" else 0,
            pending=-size if previous == "pending_review" else 0,
            parties=-1 if previous == "waitlisted" else 0,
        )
        facts: list[Contract] = []
        ticket = await repository.revoke_ticket(conn, reg_id)
        if ticket is not None:
            facts.append(
                c.TicketRevoked(
                    ticket_id=ticket["id"],
                    registration_id=reg_id,
                    reason="cancelled" if new_status == "cancelled" else "rejected",
                )
            )
        base = _fact(updated, None)
        if new_status == "cancelled":
            facts.insert(0, c.RegistrationCancelled(**base, previous_status=previous, by=by))  # type: ignore[arg-type]
        else:
            facts.insert(0, c.RegistrationRejected(**base))
        await _publish(rt, conn, slug, *facts)
        if previous == "confirmed":
            await _promote(rt, conn, slug, code)
    rt.committed()
    return updated


async def _promote(rt: Runtime, conn: asyncpg.Connection, slug: str, code: str) -> int:
    """Give freed places to the earliest waiting parties that fit. The caller holds the
    category row's lock."""
    cat = await conn.fetchrow(
        "SELECT capacity - confirmed_people AS free FROM categories"
        " WHERE event_slug=$1 AND code=$2",
        slug,
        code,
    )
    assert cat is not None
    if cat["free"] <= 0:
        return 0
    waiting = await repository.waiting_parties(conn, slug, code)
    chosen = set(domain.plan_promotions(cat["free"], [(r["id"], r["party_size"]) for r in waiting]))
    for r in waiting:
        if r["id"] not in chosen:
            continue
        reg = await repository.set_status(conn, r["id"], "confirmed")
        await repository.adjust_counters(
            conn, slug, code, confirmed=reg["party_size"], waitlist=-reg["party_size"], parties=-1
        )
        _, issued, info = await _issue_ticket(rt, conn, reg)
        # The promoted person's manage link is theirs already; notify re-sends it from
        # its own copy, so no secret is needed here.
        await _publish(
            rt, conn, slug, c.RegistrationPromoted(**_fact(reg, None), ticket=info), issued
        )
    return len(chosen)


async def approve(rt: Runtime, reg_id: uuid.UUID) -> asyncpg.Record:
    peek = await repository.get_registration(rt.pool, reg_id)
    if peek is None:
        raise NotFound()
    slug, code = peek["event_slug"], peek["category_code"]
    async with transaction(rt.pool) as conn:
        await repository.lock_category(conn, slug, code)
        reg = await repository.get_registration(conn, reg_id, lock=True)
        assert reg is not None
        if not domain.can_approve(reg["status"]):
            if reg["status"] in ("confirmed", "waitlisted"):
                return reg  # approved already: a retry changes nothing
            raise Conflict(code="not_allowed_in_this_status")
        size = reg["party_size"]
        await repository.adjust_counters(conn, slug, code, pending=-size)
        fits, queue = await repository.take_places(conn, slug, code, size)
        if fits:
            reg = await repository.set_status(conn, reg_id, "confirmed")
            _, issued, info = await _issue_ticket(rt, conn, reg)
            await _publish(
                rt,
                conn,
                slug,
                c.RegistrationApproved(**_fact(reg, None), status="confirmed", ticket=info),
                issued,
            )
        else:
            reg = await repository.set_status(conn, reg_id, "waitlisted", waitlisted=True)
            await _publish(
                rt,
                conn,
                slug,
                c.RegistrationApproved(**_fact(reg, None), status="waitlisted", position=queue),
            )
    rt.committed()
    return reg


# -- self-service changes ---------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    party_size: int | None = None
    notify_by: str | None = None


async def change(rt: Runtime, reg_id: uuid.UUID, ch: Change) -> asyncpg.Record:
    """Change contact, language or party size. A larger party needs free places (never
    past capacity); a smaller one frees places for the waiting list at once."""
    peek = await repository.get_registration(rt.pool, reg_id)
    if peek is None:
        raise NotFound()
    slug, code = peek["event_slug"], peek["category_code"]
    event = await repository.load_event(rt.pool, slug)
    assert event is not None
    category = next(x for x in event.categories if x.code == code)
    errs: list[FieldError] = []
    updates: dict[str, Any] = {}
    if ch.email is not None:
        try:
            updates["email"] = domain.normalize_email(ch.email) if ch.email.strip() else None
        except ValueError:
            errs.append(FieldError("email", "invalid"))
    if ch.phone is not None:
        try:
            updates["phone"] = domain.normalize_phone(ch.phone) if ch.phone.strip() else None
        except ValueError:
            errs.append(FieldError("phone", "invalid"))
    if ch.language is not None:
        if ch.language not in LANGUAGES:
            errs.append(FieldError("language", "unknown"))
        updates["language"] = ch.language
    if ch.notify_by is not None:
        updates["notify_by"] = ch.notify_by
    if ch.party_size is not None and not 1 <= ch.party_size <= category.max_party_size:
        errs.append(FieldError("party_size", "too_large" if ch.party_size > 1 else "invalid"))
    if errs:
        raise ValidationFailed(errs)
    try:
        async with transaction(rt.pool) as conn:
            await repository.lock_category(conn, slug, code)
            reg = await repository.get_registration(conn, reg_id, lock=True)
            assert reg is not None
            if reg["status"] not in domain.ACTIVE:
                raise Conflict(code="not_allowed_in_this_status")
            merged = {**dict(reg), **updates}
            if not merged["email"] and not merged["phone"] and reg["created_by"] is None:
                raise ValidationFailed([FieldError("email", "contact_missing")])
            delta = (ch.party_size or reg["party_size"]) - reg["party_size"]
            status = reg["status"]
            if delta > 0 and status == "confirmed":
                fits = await conn.fetchval(
                    "UPDATE categories SET confirmed_people = confirmed_people + $3"
                    " WHERE event_slug=$1 AND code=$2 AND confirmed_people + $3 <= capacity"
                    " RETURNING true",
                    slug,
                    code,
                    delta,
                )
                if not fits:
                    raise Conflict(code="no_capacity")
            elif delta:
                await repository.adjust_counters(
                    conn,
                    slug,
                    code,
                    confirmed=delta if status == "confirmed" else 0,
                    waitlist=delta if status == "waitlisted" else 0,
                    pending=delta if status == "pending_review" else 0,
                )
            if delta:
                updates["party_size"] = ch.party_size
            if not updates:
                return reg
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(updates, start=2))
            reg = await conn.fetchrow(
                f"UPDATE registrations SET {sets}, updated_at = now() WHERE id = $1 RETURNING *",
                reg_id,
                *updates.values(),
            )
            assert reg is not None
            facts: list[Contract] = [c.RegistrationChanged(**_fact(reg, None))]
            if "party_size" in updates or "language" in updates:
                ticket = await conn.fetchrow(
                    "UPDATE tickets SET revision = revision + 1 WHERE registration_id = $1"
                    " AND status = 'active' RETURNING id, kid, revision",
                    reg_id,
                )
                if ticket is not None:
                    facts.append(
                        c.TicketIssued(
                            ticket_id=ticket["id"],
                            registration_id=reg_id,
                            category=code,
                            party_size=reg["party_size"],
                            display_name=domain.display_name(reg["name"]),
                            language=reg["language"],
                            kid=ticket["kid"],
                            revision=ticket["revision"],
                        )
                    )
            await _publish(rt, conn, slug, *facts)
            # Fewer people: a confirmed party frees places, and a waiting party may now
            # fit the free ones itself; either way the earliest that fit go first.
            if delta < 0 and status in ("confirmed", "waitlisted"):
                if await _promote(rt, conn, slug, code) and status == "waitlisted":
                    fresh = await repository.get_registration(conn, reg_id)
                    assert fresh is not None
                    reg = fresh
    except asyncpg.UniqueViolationError:
        raise Conflict(code="duplicate_registration") from None
    rt.committed()
    return reg
