"""Check-in against real PostgreSQL and NATS, with registration running beside it: tickets
and devices reach the gate over the bus; scans are decided once, in the contract's order of
checks; retries change nothing; the gate works on while registration is down."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.checkin import service as checkin
from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.registration import service as registration
from shared.i18n import translator
from shared.ids import ticket_number
from shared.runtime import RUNTIME
from shared.security import KeyRing, sign_claims, sign_ticket
from shared.testing import wait_until
from tests.integration.regfixtures import ADMIN, make_event, person, running_registration

REG = "/api/registration"
CHK = "/api/checkin"


@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


@pytest.fixture(scope="module")
async def chk(make_settings: Any, reg: TestClient) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(checkin_app(make_settings(CheckinSettings, rate_limit=False))))
    await client.start_server()
    yield client
    await client.close()


async def pair(
    reg: TestClient, admin: dict[str, str], slug: str, place: str, role: str = "gate"
) -> dict[str, str]:
    made = await (
        await reg.post(
            f"{REG}/events/{slug}/devices", headers=admin, json={"role": role, "place": place}
        )
    ).json()
    token = await (
        await reg.post(f"{REG}/devices/pair", json={"pairing_code": made["pairing_code"]})
    ).json()
    return {"Authorization": f"Bearer {token['device_token']}", "device_id": made["device_id"]}


async def counts_of(chk: TestClient, db: asyncpg.Pool, slug: str, admin: dict[str, str]) -> Any:
    """The organizer's counts, once checkin has heard of the event (its own consumer)."""
    await known(db, "SELECT true FROM checkin.events WHERE slug=$1", slug)
    r = await chk.get(f"{CHK}/events/{slug}/counts", headers=admin)
    assert r.status == 200, await r.text()
    return await r.json()


async def known(db: asyncpg.Pool, sql: str, *args: Any) -> Any:
    return await wait_until(lambda: db.fetchval(sql, *args), timeout=30, message=sql)


async def scan(
    chk: TestClient,
    device: dict[str, str],
    qr: str,
    direction: str = "in",
    client_scan_id: str | None = None,
    **extra: Any,
) -> tuple[int, dict[str, Any]]:
    r = await chk.post(
        f"{CHK}/scans",
        json={
            "client_scan_id": client_scan_id or uuid.uuid4().hex,
            "qr_text": qr,
            "direction": direction,
            **extra,
        },
        headers={"Authorization": device["Authorization"]},
    )
    return r.status, await r.json()


async def test_entry_exit_and_retries_at_one_gate(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    a = await (
        await reg.post(f"{REG}/events/{slug}/registrations", json=person(1, party_size=1))
    ).json()
    qr = a["ticket"]["qr_text"]
    gate = await pair(reg, admin, slug, "east")
    await known(db, "SELECT true FROM checkin.tickets WHERE id=$1", uuid.UUID(a["ticket"]["id"]))
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"]))

    status, first = await scan(chk, gate, qr, client_scan_id="s-1")
    assert status == 200 and first["result"] == "admitted"
    assert first["attendee"] == {
        "display_name": "Tran Van 1",
        "party_size": 1,
        "category": "visitor",
        "language": "vi",
    }
    _, again = await scan(chk, gate, qr, client_scan_id="s-1")  # the phone retried
    assert again == first
    _, second = await scan(chk, gate, qr)
    assert second["result"] == "already_admitted" and second["first_gate"] == "east"
    _, out = await scan(chk, gate, qr, "out")
    assert out["result"] == "exited"
    _, out2 = await scan(chk, gate, qr, "out")
    assert (out2["result"], out2["reason"]) == ("rejected", "not_admitted_yet")
    _, back = await scan(chk, gate, qr)  # the visitor category allows no re-entry by default
    assert back["result"] == "already_admitted"
    counts = await counts_of(chk, db, slug, admin)
    assert (counts["admitted_parties"], counts["admitted_people"], counts["inside_people"]) == (
        1,
        1,
        0,
    )
    assert counts["by_gate"]["east"]["scans_last_minute"] == 5  # the retry is not a new scan
    assert counts["scans_last_minute"] == 5


async def test_bad_tickets_and_tokens_get_the_right_answer(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str], tmp_path: Any
) -> None:
    slug, other = await make_event(reg), await make_event(reg)
    gate = await pair(reg, admin, slug, "main")
    booth = await pair(reg, admin, slug, "b1", role="booth")
    mine = await (await reg.post(f"{REG}/events/{slug}/registrations", json=person(1))).json()
    theirs = await (await reg.post(f"{REG}/events/{other}/registrations", json=person(2))).json()
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"]))
    qr = mine["ticket"]["qr_text"]
    foreign_key = KeyRing.load_or_create(tmp_path / "k").active
    forged = sign_ticket(foreign_key, uuid.UUID(mine["ticket"]["id"]), slug)
    cases = {
        "hello": "invalid_signature",
        qr[:-4]: "invalid_signature",
        qr[:20] + ("A" if qr[20] != "A" else "B") + qr[21:]: "invalid_signature",
        forged: "invalid_signature",
        theirs["ticket"]["qr_text"]: "wrong_event",
    }
    for text, reason in cases.items():
        status, body = await scan(chk, gate, text)
        assert status == 200 and (body["result"], body.get("reason")) == ("rejected", reason), text
    # A cancelled ticket is refused once the revocation reaches the gate.
    await reg.post(
        f"{REG}/registrations/{mine['id']}/cancel",
        headers={"X-Registration-Secret": mine["secret"]},
    )
    await known(
        db, "SELECT revoked FROM checkin.tickets WHERE id=$1", uuid.UUID(mine["ticket"]["id"])
    )
    _, body = await scan(chk, gate, qr)
    assert (body["result"], body["reason"]) == ("rejected", "cancelled")
    # Tokens: none → 401; a booth's → 403; forged → 401; expired → 401.
    r = await chk.post(f"{CHK}/scans", json={"client_scan_id": "x", "qr_text": qr})
    assert r.status == 401
    assert (await scan(chk, booth, qr))[0] == 403
    fake = sign_claims(
        foreign_key,
        "device",
        {"d": gate["device_id"], "e": slug, "r": "gate", "p": "main", "x": 2_000_000_000},
    )
    assert (await scan(chk, {"Authorization": f"Bearer {fake}"}, qr))[0] == 401
    ring = registration.keyring(reg.server.app[RUNTIME])
    expired = sign_claims(
        ring.active, "device", {"d": gate["device_id"], "e": slug, "r": "gate", "p": "main", "x": 1}
    )
    assert (await scan(chk, {"Authorization": f"Bearer {expired}"}, qr))[0] == 401
    # Malformed requests and a clock far ahead are problems, not scans.
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    status, body = await scan(chk, gate, qr, scanned_at=future)
    assert status == 422 and body["errors"][0]["field"] == "scanned_at"
    past = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    assert (await scan(chk, gate, "hello", scanned_at=past))[0] == 200
    r = await chk.post(
        f"{CHK}/scans", json={"qr_text": qr}, headers={"Authorization": gate["Authorization"]}
    )
    assert r.status == 422
    big = {"scans": [{"client_scan_id": f"b{i}", "qr_text": "hello"} for i in range(10_000)]}
    r = await chk.post(
        f"{CHK}/scans/batch", json=big, headers={"Authorization": gate["Authorization"]}
    )
    assert r.status in (413, 422)
    # A revoked device is told so on every scan.
    await reg.post(f"{REG}/devices/{gate['device_id']}/revoke", headers=admin)
    await known(db, "SELECT revoked FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"]))
    _, body = await scan(chk, gate, qr)
    assert (body["result"], body["reason"]) == ("rejected", "device_revoked")


async def many_devices_scanning(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str], *, unsafe: bool
) -> tuple[int, dict[str, int], dict[str, Any]]:
    """1,000 tickets, 4 devices, each ticket scanned by two devices at once and retried."""
    slug = await make_event(reg)
    ring = registration.keyring(reg.server.app[RUNTIME])
    tickets = [sign_ticket(ring.active, uuid.uuid4(), slug) for _ in range(1000)]
    devices = [await pair(reg, admin, slug, f"gate{i}") for i in range(4)]
    for d in devices:
        await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(d["device_id"]))
    rt = chk.server.app[RUNTIME]
    t = translator("en")
    rng = random.Random(4)
    jobs = []
    for n, qr in enumerate(tickets):
        pair_of = rng.sample(range(4), 2)
        for d in pair_of:
            cid = f"{n}-{d}"
            jobs.append((d, cid, qr))
            if rng.random() < 0.3:
                jobs.append((d, cid, qr))  # a retry of the same scan
    rng.shuffle(jobs)
    sem = asyncio.Semaphore(16)
    results: dict[str, int] = {}
    batcher = checkin.batcher(rt)
    batched_before = (batcher.batches, batcher.items)

    async def one(d: int, cid: str, qr: str) -> None:
        dev = devices[d]
        device = checkin.Device(uuid.UUID(dev["device_id"]), slug, "gate", f"gate{d}")
        async with sem:
            out = await checkin.scan(
                rt, device, checkin.Scan(cid, qr, "in"), t, unsafe_no_ticket_lock=unsafe
            )
        results[out["result"]] = results.get(out["result"], 0) + 1

    await asyncio.gather(*(one(*j) for j in jobs))
    admitted = await db.fetchval(
        "SELECT count(*) FROM checkin.scans WHERE event_slug=$1 AND result='admitted'", slug
    )
    counts = await counts_of(chk, db, slug, admin)
    results["batches"] = batcher.batches - batched_before[0]
    results["batched_scans"] = batcher.items - batched_before[1]
    return admitted, results, counts


async def test_1000_tickets_4_devices_each_admitted_exactly_once(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    admitted, results, counts = await many_devices_scanning(reg, chk, db, admin, unsafe=False)
    # Most scans went in batches of several (shared/batching.py): the rules held there too.
    batches, batched = results.pop("batches"), results.pop("batched_scans")
    assert batches > 0 and batched > 2 * batches and batched > sum(results.values()) // 2
    assert admitted == 1000
    assert results["admitted"] + results["already_admitted"] == sum(results.values())
    assert (counts["admitted_parties"], counts["admitted_people"], counts["inside_people"]) == (
        1000,
        1000,
        1000,
    )


async def test_control_without_the_ticket_lock_admits_some_twice(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    admitted, _, counts = await many_devices_scanning(reg, chk, db, admin, unsafe=True)
    assert admitted > 1000 or counts["admitted_people"] > 1000


async def test_gate_keeps_admitting_while_registration_is_down_and_catches_up_after(
    db: asyncpg.Pool, make_settings: Any, reg: TestClient
) -> None:
    # Its own registration and checkin, since both are stopped on purpose here; the same
    # data folder (so the same signing keys) as the module's registration, as replicas do.
    shared_keys = reg.server.app[RUNTIME].settings.data_dir
    async for reg in running_registration(make_settings, shared_keys):
        login = await reg.post(f"{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        admin = {"Authorization": f"Bearer {(await login.json())['token']}"}
        chk = TestClient(TestServer(checkin_app(make_settings(CheckinSettings))))
        await chk.start_server()
        slug = await make_event(reg)
        a = await (await reg.post(f"{REG}/events/{slug}/registrations", json=person(1))).json()
        b = await (await reg.post(f"{REG}/events/{slug}/registrations", json=person(2))).json()
        gate = await pair(reg, admin, slug, "west")
        await known(
            db, "SELECT true FROM checkin.tickets WHERE id=$1", uuid.UUID(b["ticket"]["id"])
        )
        await known(
            db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"])
        )
        # Checkin is cut off (stopped) while b cancels; then registration goes down too.
        await chk.close()
        await reg.post(
            f"{REG}/registrations/{b['id']}/cancel", headers={"X-Registration-Secret": b["secret"]}
        )
        await wait_until(
            lambda: db.fetchval(
                "SELECT count(*) = 0 FROM registration.outbox WHERE sent_at IS NULL"
            ),
            message="sent",
        )
        await reg.close()
        # Checkin comes back alone: it admits what it knows, and learns b's cancellation.
        again = TestClient(TestServer(checkin_app(make_settings(CheckinSettings))))
        await again.start_server()
        try:
            _, first = await scan(again, gate, a["ticket"]["qr_text"])
            assert first["result"] == "admitted"
            await known(
                db, "SELECT revoked FROM checkin.tickets WHERE id=$1", uuid.UUID(b["ticket"]["id"])
            )
            _, second = await scan(again, gate, b["ticket"]["qr_text"])
            assert (second["result"], second["reason"]) == ("rejected", "cancelled")
        finally:
            await again.close()


async def test_offline_sync_from_two_devices_admits_once_and_flags_the_second(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    from services.registration.domain import Category

    slug = await make_event(
        reg, Category(code="visitor", title={"ja": "来場者"}, capacity=50, max_party_size=4)
    )
    a = await (
        await reg.post(f"{REG}/events/{slug}/registrations", json=person(1, party_size=2))
    ).json()
    b = await (await reg.post(f"{REG}/events/{slug}/registrations", json=person(2))).json()
    north, south = await pair(reg, admin, slug, "north"), await pair(reg, admin, slug, "south")
    for d in (north, south):
        await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(d["device_id"]))
    await known(db, "SELECT true FROM checkin.tickets WHERE id=$1", uuid.UUID(b["ticket"]["id"]))
    when = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    batch = [
        {"client_scan_id": "n1", "qr_text": a["ticket"]["qr_text"], "scanned_at": when},
        {"client_scan_id": "n2", "qr_text": "hello", "scanned_at": when},
        {"client_scan_id": "n3", "qr_text": b["ticket"]["qr_text"], "scanned_at": when},
    ]
    r = await chk.post(
        f"{CHK}/scans/batch",
        json={"scans": batch},
        headers={"Authorization": north["Authorization"]},
    )
    results = (await r.json())["results"]
    assert [x["client_scan_id"] for x in results] == ["n1", "n2", "n3"]
    assert [x["result"] for x in results] == ["admitted", "rejected", "admitted"]
    again = await chk.post(
        f"{CHK}/scans/batch",
        json={"scans": batch[:1]},
        headers={"Authorization": north["Authorization"]},
    )
    assert (await again.json())["results"][0] == results[0]  # a resync changes nothing
    r = await chk.post(
        f"{CHK}/scans/batch",
        headers={"Authorization": south["Authorization"]},
        json={
            "scans": [
                {"client_scan_id": "s1", "scanned_at": when, "qr_text": a["ticket"]["qr_text"]}
            ]
        },
    )
    second = (await r.json())["results"][0]
    assert second["result"] == "already_admitted" and second["first_gate"] == "north"
    dups = await (await chk.get(f"{CHK}/events/{slug}/duplicates", headers=admin)).json()
    assert [(d["gate"], d["ticket_id"]) for d in dups["items"]] == [("south", a["ticket"]["id"])]
    # The same list in the organizer console, for people: the number printed on the ticket.
    page = f"/console/checkin/{slug}"
    await known(db, "SELECT true FROM checkin.events WHERE slug = $1", slug)  # its title
    assert (await chk.get(page, allow_redirects=False)).status == 303  # to the login page
    session = {"Cookie": f"tomoni_session={admin['Authorization'][7:]}; tomoni_lang=en"}
    got = await chk.get(page, headers=session)
    html = await got.text()
    assert got.status == 200, (got.status, html[:300])
    rows = html[html.index('data-duplicates="list"') :]
    assert rows.count("<tr>") == 2  # the header and the one later admission
    assert ticket_number(a["ticket"]["id"]) in rows and ">south<" in rows
    counts = await counts_of(chk, db, slug, admin)
    assert (counts["admitted_parties"], counts["admitted_people"]) == (2, 3)


async def test_a_ticket_admitted_before_its_details_arrive_is_counted_right_later(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    from shared.contracts.registration import TicketIssued

    slug = await make_event(reg)
    gate = await pair(reg, admin, slug, "late")
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"]))
    ring = registration.keyring(reg.server.app[RUNTIME])
    ticket_id = uuid.uuid4()
    _, first = await scan(chk, gate, sign_ticket(ring.active, ticket_id, slug))
    assert first["result"] == "admitted" and "attendee" not in first  # details unknown yet
    rt = chk.server.app[RUNTIME]
    issued = TicketIssued(
        ticket_id=ticket_id,
        registration_id=uuid.uuid4(),
        category="visitor",
        party_size=4,
        display_name="Ana",
        language="tl",
        kid="x",
    )
    async with rt.pool.acquire() as conn, conn.transaction():
        await checkin.apply_ticket_issued(conn, slug, issued)
    counts = await counts_of(chk, db, slug, admin)
    assert (counts["admitted_parties"], counts["admitted_people"], counts["inside_people"]) == (
        1,
        4,
        4,
    )


async def test_a_scan_moves_the_live_snapshot_within_a_second_and_it_answers_requests(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str], namespace: str
) -> None:
    import json
    import time

    import nats

    from shared.testing import Servers

    slug = await make_event(reg)
    gate = await pair(reg, admin, slug, "live")
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"]))
    ring = registration.keyring(reg.server.app[RUNTIME])
    rt = chk.server.app[RUNTIME]
    nc = await nats.connect(rt.settings.nats_servers)
    seen: list[tuple[float, dict[str, Any]]] = []

    async def on(msg: Any) -> None:
        seen.append((time.perf_counter(), json.loads(msg.data)))

    await nc.subscribe(f"{namespace}.live.{slug}.checkin", cb=on)
    try:
        await scan(chk, gate, sign_ticket(ring.active, uuid.uuid4(), slug))
        # How fast is measured by bench/checkin.py (p95 well under a second), not here.
        await wait_until(
            lambda: any(s["admitted_parties"] == 1 for _, s in seen),
            timeout=10,
            message="snapshot with the scan",
        )
        reply = await nc.request(f"{namespace}.live.checkin.get", slug.encode(), timeout=2)
        assert json.loads(reply.data)["by_gate"]["live"]["admitted_people"] == 1
    finally:
        await nc.close()
    del Servers


async def test_a_typed_ticket_number_is_looked_up_for_a_damaged_code(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    a = await (await reg.post(f"{REG}/events/{slug}/registrations", json=person(1))).json()
    gate = await pair(reg, admin, slug, "desk")
    await known(db, "SELECT true FROM checkin.tickets WHERE id=$1", uuid.UUID(a["ticket"]["id"]))
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"]))
    tail = a["ticket"]["id"].replace("-", "")[-12:].upper()
    _, first = await scan(chk, gate, f"{tail[:4]}-{tail[4:8]} {tail[8:]}")
    assert first["result"] == "admitted" and first["attendee"]["display_name"] == "Tran Van 1"
    _, again = await scan(chk, gate, tail.lower())
    assert again["result"] == "already_admitted"
    _, unknown = await scan(chk, gate, "0000-0000-0000")
    assert (unknown["result"], unknown["reason"]) == ("rejected", "unknown_ticket")


def gate_device(d: dict[str, str], slug: str, place: str) -> checkin.Device:
    return checkin.Device(uuid.UUID(d["device_id"]), slug, "gate", place)


async def test_a_batch_with_a_scan_the_database_refuses_answers_the_others(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    """One scan in a batch that PostgreSQL refuses (a NUL in text): the batch commits
    nothing, every scan is decided again on its own, and only that one fails."""
    slug = await make_event(reg)
    ring = registration.keyring(reg.server.app[RUNTIME])
    d = await pair(reg, admin, slug, "north")
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(d["device_id"]))
    rt, t, device = chk.server.app[RUNTIME], translator("en"), gate_device(d, slug, "north")
    batcher = checkin.batcher(rt)
    fallbacks = batcher.fallbacks
    cids = [f"ok{i}" for i in range(5)] + ["bad\x00"]
    outcomes = await asyncio.gather(
        *(
            checkin.scan(
                rt, device, checkin.Scan(c, sign_ticket(ring.active, uuid.uuid4(), slug), "in"), t
            )
            for c in cids
        ),
        return_exceptions=True,
    )
    assert [o["result"] for o in outcomes[:5]] == ["admitted"] * 5  # type: ignore[index]
    assert isinstance(outcomes[5], asyncpg.DataError)
    assert batcher.fallbacks == fallbacks + 1
    stored = await db.fetch(
        "SELECT client_scan_id, result FROM checkin.scans WHERE device_id = $1",
        uuid.UUID(d["device_id"]),
    )
    assert sorted(r["client_scan_id"] for r in stored) == cids[:5]
    facts = await db.fetchval(
        "SELECT count(*) FROM checkin.outbox WHERE event_slug = $1 AND event_type = "
        "'checkin.admitted'",
        slug,
    )
    assert facts == 5


async def test_a_batch_kept_waiting_by_a_lock_gives_up_and_its_scans_go_one_by_one(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    """A batch that would wait on a lock held elsewhere (another replica's batch holding a
    gate's counters) stops after its lock_timeout, commits nothing, and its scans are
    decided one by one: the others at once, the blocked one when the lock is free."""
    slug = await make_event(reg)
    ring = registration.keyring(reg.server.app[RUNTIME])
    north, south = [await pair(reg, admin, slug, p) for p in ("north", "south")]
    for d in (north, south):
        await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(d["device_id"]))
    rt, t = chk.server.app[RUNTIME], translator("en")
    n_dev, s_dev = gate_device(north, slug, "north"), gate_device(south, slug, "south")
    ticket = lambda: sign_ticket(ring.active, uuid.uuid4(), slug)  # noqa: E731
    first = await checkin.scan(rt, n_dev, checkin.Scan("n0", ticket(), "in"), t)
    assert first["result"] == "admitted"  # north's counter row now exists
    batcher = checkin.batcher(rt)
    fallbacks = batcher.fallbacks
    async with db.acquire() as holder, holder.transaction():
        await holder.execute(
            "SELECT 1 FROM checkin.gate_counts WHERE device_id = $1 FOR UPDATE",
            n_dev.id,
        )
        blocked = asyncio.ensure_future(
            checkin.scan(rt, n_dev, checkin.Scan("n1", ticket(), "in"), t)
        )
        others = [
            asyncio.ensure_future(checkin.scan(rt, s_dev, checkin.Scan(f"s{i}", ticket(), "in"), t))
            for i in range(3)
        ]
        done = await asyncio.wait_for(asyncio.gather(*others), timeout=10)
        assert [o["result"] for o in done] == ["admitted"] * 3
        assert not blocked.done()
        assert batcher.fallbacks == fallbacks + 1
    assert (await asyncio.wait_for(blocked, timeout=10))["result"] == "admitted"
    rows = await db.fetch("SELECT result FROM checkin.scans WHERE event_slug = $1", slug)
    assert [r["result"] for r in rows] == ["admitted"] * 5
    counts = await db.fetchval(
        "SELECT sum(admitted_parties) FROM checkin.gate_counts WHERE event_slug = $1", slug
    )
    assert counts == 5


async def test_a_sync_batch_with_a_scan_from_a_clock_far_ahead_stores_nothing(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    """Every scan of a batch is checked before any is decided: one from a phone whose clock
    is an hour ahead makes the batch a 422 naming that scan, and none is stored (the
    scanner then sends them one by one)."""
    slug = await make_event(reg)
    ring = registration.keyring(reg.server.app[RUNTIME])
    gate = await pair(reg, admin, slug, "east")
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", uuid.UUID(gate["device_id"]))
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scans = [
        {"client_scan_id": f"b{i}", "qr_text": sign_ticket(ring.active, uuid.uuid4(), slug)}
        for i in range(3)
    ]
    scans[1]["scanned_at"] = ahead
    r = await chk.post(
        f"{CHK}/scans/batch",
        json={"scans": scans},
        headers={"Authorization": gate["Authorization"]},
    )
    body = await r.json()
    assert r.status == 422, body
    assert [e["field"] for e in body["errors"]] == ["scans.1.scanned_at"]
    stored = await db.fetchval(
        "SELECT count(*) FROM checkin.scans WHERE device_id = $1", uuid.UUID(gate["device_id"])
    )
    assert stored == 0
    del scans[1]["scanned_at"]  # the same batch with the clock put right: all three decided
    r = await chk.post(
        f"{CHK}/scans/batch",
        json={"scans": scans},
        headers={"Authorization": gate["Authorization"]},
    )
    assert [a["result"] for a in (await r.json())["results"]] == ["admitted"] * 3


async def test_a_retry_racing_its_first_scan_waits_and_gets_the_first_answer(
    reg: TestClient, chk: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    """The same client_scan_id from the same phone, twice at once (a retry sent while the
    first was still being decided): the second waits for the first to commit, then gets
    its answer and changes nothing."""
    slug = await make_event(reg)
    gate = await pair(reg, admin, slug, "east")
    device = uuid.UUID(gate["device_id"])
    await known(db, "SELECT true FROM checkin.devices WHERE id=$1", device)
    ticket = uuid.uuid4()
    now = datetime.now(UTC)
    call = (
        "SELECT checkin_scan($1, 'same', $2, 'east', 'in', $3, $3, $4, NULL, NULL, $5,"
        " 'test.checkin.', NULL, interval '30 seconds')"
    )
    async with db.acquire() as first, db.acquire() as retry:
        for conn in (first, retry):
            await conn.execute("SET search_path = checkin, public")
        tx = first.transaction()
        await tx.start()
        answer = json.loads(await first.fetchval(call, device, slug, now, ticket, uuid.uuid4()))
        assert answer["fresh"] and answer["response"]["result"] == "admitted"
        racing = asyncio.ensure_future(
            retry.fetchval(call, device, slug, now, ticket, uuid.uuid4())
        )
        await asyncio.sleep(0.3)
        assert not racing.done()  # waiting for the first to commit
        await tx.commit()
        again = json.loads(await asyncio.wait_for(racing, timeout=10))
        await retry.execute("RESET search_path")
        await first.execute("RESET search_path")
    assert again == {"fresh": False, "response": answer["response"]}
    rows = await db.fetchval(
        "SELECT count(*) FROM checkin.scans WHERE device_id = $1 AND client_scan_id = 'same'",
        device,
    )
    facts = await db.fetchval("SELECT count(*) FROM checkin.outbox WHERE event_slug = $1", slug)
    assert (rows, facts) == (1, 1)


async def test_arrivals_are_counted_for_the_latest_day_with_no_two_days_mixed(
    chk: TestClient, db: asyncpg.Pool
) -> None:
    """A two-day fair (or a phone syncing yesterday's scans) has arrivals at 10:00 on both
    days: the chart counts the latest day's, each 5 minutes once, never one day's bucket
    over the other's (a dictionary keyed by "HH:MM" kept only one of them)."""
    from services.checkin import repository

    slug = f"two-days-{uuid.uuid4().hex[:8]}"
    await db.execute(
        "INSERT INTO checkin.events (slug, title, starts_at, ends_at, timezone, revision)"
        " VALUES ($1, '{}', $2, $3, 'Asia/Tokyo', 1)",
        slug,
        datetime(2026, 10, 24, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 8, tzinfo=UTC),
    )
    rows = [  # (UTC bucket, people): 10:00 and 10:05 Tokyo time on both days
        (datetime(2026, 10, 24, 1, 0, tzinfo=UTC), 7),
        (datetime(2026, 10, 24, 1, 5, tzinfo=UTC), 1),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 3),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 2),  # another device, same bucket
        (datetime(2026, 10, 25, 6, 55, tzinfo=UTC), 4),  # 15:55
    ]
    await db.executemany(
        "INSERT INTO checkin.arrivals (event_slug, bucket, device_id, people)"
        " VALUES ($1, $2, $3, $4)",
        [(slug, at, uuid.uuid4(), n) for at, n in rows],
    )
    async with db.acquire() as conn:
        await conn.execute("SET search_path = checkin")
        counts = await repository.counts(conn, slug)
    assert counts["arrivals_by_5min"] == {"10:00": 5, "15:55": 4}
    assert counts["arrivals_day"] == "2026-10-25"
    await db.execute("DELETE FROM checkin.arrivals WHERE event_slug = $1", slug)
    async with db.acquire() as conn:
        await conn.execute("SET search_path = checkin")
        empty = await repository.counts(conn, slug)
    assert (empty["arrivals_by_5min"], empty["arrivals_day"]) == ({}, None)
