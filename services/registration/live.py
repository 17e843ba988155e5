"""The organizers' live numbers of an event, as one Server-Sent Events stream
(``GET /api/registration/events/{slug}/live``).

Each service publishes throttled snapshots of its own counts on core NATS
(``<ns>.live.<event>.<service>``, see ``shared/live.py``) and answers requests for its
current one. Registration's own part is made from the counters kept with each
registration, and is touched whenever registration publishes a fact about the event (it
listens to its own subjects, so no write path has to remember to). The stream relays:
at once on connecting, a snapshot built from every service's answer (a part is ``null``
when its service has not answered); then a new one within a second of any part moving;
a comment every 15 s keeps proxies from closing it. While NATS is unreachable the stream
says so (``event: status``); when it is back, every part is asked again, so the board
shows the truth rather than what it last heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from services.registration import repository
from shared.events import Envelope
from shared.live import LiveFeed, live_subject, request_subject
from shared.runtime import Runtime

logger = logging.getLogger("tomoni.registration")

LIVE = "live"
PARTS = ("checkin", "stamprally", "notify")
KEEPALIVE_SECONDS = 15.0
ASK_TIMEOUT = 0.5


async def registration_part(pool: asyncpg.Pool, slug: str) -> dict[str, Any]:
    """Capacity and people per category (the counters kept with each registration), and
    the registrants' languages and interpreter requests (for sending multilingual
    volunteers where they are needed)."""
    rows = await repository.category_counts(pool, slug)
    # pending_review counts applications (API.md, Units), not the people in them.
    applications = {
        r["category_code"]: r["n"]
        for r in await pool.fetch(
            "SELECT category_code, count(*) AS n FROM registrations"
            " WHERE event_slug = $1 AND status = 'pending_review' GROUP BY 1",
            slug,
        )
    }
    by_category = {
        r["code"]: {
            "registered_people": r["confirmed_people"],
            "capacity": r["capacity"],
            "waitlist_people": r["waitlist_people"],
            "pending_review": applications.get(r["code"], 0),
        }
        for r in rows
    }
    languages = await pool.fetch(
        """
        SELECT language, sum(party_size) AS people FROM registrations
        WHERE event_slug = $1 AND status IN ('confirmed', 'waitlisted', 'pending_review')
        GROUP BY language ORDER BY 2 DESC
        """,
        slug,
    )
    interpreters = await pool.fetch(
        """
        SELECT answers->>'interpreter' AS language, count(*) AS n FROM registrations
        WHERE event_slug = $1 AND status IN ('confirmed', 'waitlisted', 'pending_review')
          AND coalesce(answers->>'interpreter', 'none') NOT IN ('none', '', 'no')
        GROUP BY 1 ORDER BY 2 DESC
        """,
        slug,
    )
    return {
        "registered_people": sum(c["registered_people"] for c in by_category.values()),
        "capacity": sum(c["capacity"] for c in by_category.values()),
        "waitlist_people": sum(c["waitlist_people"] for c in by_category.values()),
        "pending_review": sum(c["pending_review"] for c in by_category.values()),
        "by_category": by_category,
        "languages": {r["language"]: int(r["people"]) for r in languages},
        "interpreter_requests": {r["language"]: r["n"] for r in interpreters},
    }


def feed(rt: Runtime) -> LiveFeed:
    value: LiveFeed = rt.state[LIVE]
    return value


async def start(rt: Runtime) -> None:
    live = LiveFeed(
        rt.nc, rt.namespace, "registration", lambda slug: registration_part(rt.pool, slug)
    )
    await live.start()
    rt.state[LIVE] = live

    async def on_fact(msg: Any) -> None:
        with contextlib.suppress(Exception):
            envelope = Envelope.model_validate_json(msg.data)
            if envelope.event and envelope.type.startswith("registration."):
                live.touch(envelope.event)

    rt.state["live_facts"] = await rt.nc.subscribe(
        f"{rt.namespace}.registration.registration.*", cb=on_fact
    )


async def stop(rt: Runtime) -> None:
    sub = rt.state.pop("live_facts", None)
    if sub is not None:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    if LIVE in rt.state:
        await feed(rt).stop()


async def _ask(rt: Runtime, service: str, slug: str) -> dict[str, Any] | None:
    try:
        msg = await rt.nc.request(
            request_subject(rt.namespace, service), slug.encode(), timeout=ASK_TIMEOUT
        )
        answer: dict[str, Any] = json.loads(msg.data)
        return answer
    except Exception:  # no responder, timeout, NATS down: the part stays null
        return None


async def current(rt: Runtime, slug: str) -> dict[str, Any]:
    """Every part as it is now (registration's own, and each service's answer)."""
    asked = await asyncio.gather(*(_ask(rt, s, slug) for s in PARTS))
    own = await registration_part(rt.pool, slug)
    return {"registration": own, **dict(zip(PARTS, asked, strict=True))}


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n".encode()


async def stream(request: web.Request, rt: Runtime, slug: str) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    parts = await current(rt, slug)
    updates: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def on_part(msg: Any) -> None:
        with contextlib.suppress(Exception):
            updates.put_nowait((msg.subject.rsplit(".", 1)[1], json.loads(msg.data)))

    async def send() -> None:
        snapshot = {"event": slug, "at": datetime.now(UTC).isoformat(), **parts}
        await response.write(_frame("snapshot", snapshot))

    sub = await rt.nc.subscribe(live_subject(rt.namespace, slug, "*"), cb=on_part)
    try:
        await response.write(b"retry: 1000\n\n")  # a dropped board comes back within 1 s
        await send()
        connected = True
        if not rt.nc.is_connected:
            connected = False
            await response.write(_frame("status", {"connected": False}))
        quiet = 0.0
        while True:
            try:
                part, data = await asyncio.wait_for(updates.get(), 1.0)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the board went away
                quiet += 1.0
                if rt.nc.is_connected != connected:
                    connected = rt.nc.is_connected
                    await response.write(_frame("status", {"connected": connected}))
                    if connected:  # back: ask every part again, the truth may have moved
                        parts = await current(rt, slug)
                        await send()
                if quiet >= KEEPALIVE_SECONDS:
                    await response.write(b": keep-alive\n\n")
                    quiet = 0.0
                continue
            parts[part] = data
            while not updates.empty():  # a burst becomes one snapshot
                part, data = updates.get_nowait()
                parts[part] = data
            await send()
            quiet = 0.0
    except ConnectionResetError:  # the board went away
        pass
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return response
