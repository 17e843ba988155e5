"""The stamp rally against real PostgreSQL and NATS, with registration and checkin running
beside it: one stamp per ticket and booth whatever the retries and devices; completion
once; prizes never below zero under concurrent desks; every bad input answered with its
reason and nothing half-written."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.stamprally import console, domain
from services.stamprally import service as rally
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings
from shared.devicetokens import Device
from shared.i18n import Translator
from shared.runtime import RUNTIME
from shared.security import KeyRing, sign_ticket
from shared.testing import wait_until
from tests.integration.regfixtures import Category, make_event, person, running_registration

REG = "/api/registration"
TICKET_ROW = (
    "INSERT INTO stamprally.tickets (id, event, registration_id, revision) VALUES ($1, $2, $3, 1)"
)
SR = "/api/stamprally"


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


@pytest.fixture(scope="module")
async def sr(make_settings: Any, reg: TestClient) -> AsyncIterator[TestClient]:
    settings = make_settings(StamprallySettings, rate_limit=False, db_pool_max=24)
    client = TestClient(TestServer(stamprally_app(settings)))
    await client.start_server()
    yield client
    await client.close()


def booths(n: int) -> list[dict[str, Any]]:
    return [
        {"code": f"b{i:02d}", "name": {"ja": f"ブース{i}", "en": f"Booth {i}"}, "kind": "country"}
        for i in range(n)
    ]


async def known(db: asyncpg.Pool, sql: str, *args: Any, timeout: float = 30) -> Any:
    return await wait_until(lambda: db.fetchval(sql, *args), timeout=timeout, message=sql)


async def setup_rally(
    reg: TestClient,
    sr: TestClient,
    db: asyncpg.Pool,
    admin: dict[str, str],
    *,
    n_booths: int = 4,
    capacity: int = 100,
    **rule: Any,
) -> str:
    slug = await make_event(
        reg, Category(code="visitor", title={"ja": "来場者"}, capacity=capacity)
    )
    await known(db, "SELECT true FROM stamprally.events WHERE slug = $1", slug)
    body = {
        "title": {"ja": "スタンプラリー", "en": "Stamp rally"},
        "min_stamps": 2,
        "booths": booths(n_booths),
        "prizes": [{"code": "bag", "name": {"ja": "エコバッグ", "en": "Eco bag"}, "stock": 5}],
        **rule,
    }
    r = await sr.post(f"{SR}/events/{slug}/rally", json=body, headers=admin)
    assert r.status == 201, await r.text()
    return slug


async def pair(
    reg: TestClient, db: asyncpg.Pool, admin: dict[str, str], slug: str, role: str, place: str
) -> dict[str, str]:
    made = await (
        await reg.post(
            f"{REG}/events/{slug}/devices", headers=admin, json={"role": role, "place": place}
        )
    ).json()
    token = await (
        await reg.post(f"{REG}/devices/pair", json={"pairing_code": made["pairing_code"]})
    ).json()
    await known(
        db, "SELECT true FROM stamprally.devices WHERE id = $1", uuid.UUID(made["device_id"])
    )
    return {"Authorization": f"Bearer {token['device_token']}", "device_id": made["device_id"]}


async def attendee(reg: TestClient, db: asyncpg.Pool, slug: str, i: int) -> dict[str, Any]:
    r = await reg.post(f"{REG}/events/{slug}/registrations", json=person(i))
    assert r.status == 201, await r.text()
    made: dict[str, Any] = await r.json()
    await known(
        db, "SELECT true FROM stamprally.tickets WHERE id = $1", uuid.UUID(made["ticket"]["id"])
    )
    return made


async def stamp(
    sr: TestClient, device: dict[str, str], qr: str, scan_id: str | None = None
) -> dict[str, Any]:
    r = await sr.post(
        f"{SR}/stamps",
        json={"client_scan_id": scan_id or uuid.uuid4().hex, "qr_text": qr},
        headers={"Authorization": device["Authorization"]},
    )
    assert r.status == 200, await r.text()
    answer: dict[str, Any] = await r.json()
    return answer


async def redeem(sr: TestClient, device: dict[str, str], qr: str) -> dict[str, Any]:
    r = await sr.post(
        f"{SR}/redemptions",
        json={"client_scan_id": uuid.uuid4().hex, "qr_text": qr},
        headers={"Authorization": device["Authorization"]},
    )
    assert r.status == 200, await r.text()
    answer: dict[str, Any] = await r.json()
    return answer


async def test_a_card_fills_up_completes_once_and_gets_one_prize(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await setup_rally(reg, sr, db, admin, required_booths=["b03"])
    a = await attendee(reg, db, slug, 1)
    qr = a["ticket"]["qr_text"]
    b0 = await pair(reg, db, admin, slug, "booth", "b00")
    b1 = await pair(reg, db, admin, slug, "booth", "b01")
    b3 = await pair(reg, db, admin, slug, "booth", "b03")
    desk = await pair(reg, db, admin, slug, "prize_desk", "goal")

    first = await stamp(sr, b0, qr, "s-1")
    assert first["result"] == "stamped" and first["stamps"] == 1 and first["required"] == 2
    assert first["missing_booths"] == ["b03"] and first["completed"] is False
    assert first["attendee"]["display_name"]
    assert await stamp(sr, b0, qr, "s-1") == first, "a retry gets the first answer"
    again = await stamp(sr, b0, qr)
    assert again["result"] == "already_stamped" and again["stamps"] == 1

    assert (await redeem(sr, desk, qr))["result"] == "not_completed"
    second = await stamp(sr, b1, qr)
    assert second["stamps"] == 2 and second["completed"] is False, "b03 is required"
    done = await stamp(sr, b3, qr)
    assert done["result"] == "stamped" and done["completed"] is True and done["stamps"] == 3

    card = await sr.get(
        f"{SR}/cards/{a['ticket']['id']}", headers={"X-Registration-Secret": a["secret"]}
    )
    body = await card.json()
    assert card.status == 200 and body["completed"] and not body["redeemed"]
    assert [s["booth"] for s in body["stamps"]] == ["b00", "b01", "b03"]
    wrong = await sr.get(
        f"{SR}/cards/{a['ticket']['id']}", headers={"X-Registration-Secret": "nope"}
    )
    assert wrong.status == 404

    prize = await redeem(sr, desk, qr)
    assert prize["result"] == "redeemed" and prize["prize"]["code"] == "bag"
    assert (await redeem(sr, desk, qr))["result"] == "already_redeemed"
    facts = await db.fetch(
        "SELECT event_type FROM stamprally.outbox WHERE event_slug = $1 ORDER BY seq", slug
    )
    kinds = [f["event_type"] for f in facts]
    assert kinds.count("stamp.collected") == 3
    assert kinds.count("rally.completed") == 1 and kinds.count("prize.redeemed") == 1
    stats = await (await sr.get(f"{SR}/events/{slug}/stats", headers=admin)).json()
    assert stats["stamps_by_booth"] == {"b00": 1, "b01": 1, "b02": 0, "b03": 1}
    assert stats["completed"] == 1 and stats["redeemed"] == 1
    assert stats["prizes_left"] == {"bag": 4}
    assert stats["stamp_histogram"]["3"] == 1


async def test_every_bad_scan_gets_its_reason_and_changes_nothing(
    reg: TestClient,
    chk: TestClient,
    sr: TestClient,
    db: asyncpg.Pool,
    admin: dict[str, str],
    tmp_path: Any,
) -> None:
    slug = await setup_rally(reg, sr, db, admin, requires_checkin=True)
    other = await setup_rally(reg, sr, db, admin)
    a = await attendee(reg, db, slug, 2)
    stranger = await attendee(reg, db, other, 3)
    booth = await pair(reg, db, admin, slug, "booth", "b00")
    not_a_booth = await pair(reg, db, admin, slug, "booth", "nowhere")
    gate = await pair(reg, db, admin, slug, "gate", "east")

    async def reason(device: dict[str, str], qr: str) -> Any:
        answer = await stamp(sr, device, qr)
        return answer.get("reason") or answer["result"]

    forged = a["ticket"]["qr_text"][:-4] + (
        "AAAA" if a["ticket"]["qr_text"][-4:] != "AAAA" else "BBBB"
    )
    assert await reason(booth, "hello") == "invalid_signature"
    assert await reason(booth, forged) == "invalid_signature"
    other_key = KeyRing.load_or_create(tmp_path / "other-keys")
    assert (
        await reason(booth, sign_ticket(other_key.active, uuid.uuid4(), slug))
        == "invalid_signature"
    )
    assert await reason(booth, stranger["ticket"]["qr_text"]) == "wrong_event"
    assert await reason(not_a_booth, a["ticket"]["qr_text"]) == "wrong_booth"
    assert await reason(booth, a["ticket"]["qr_text"]) == "not_checked_in"
    r = await sr.post(
        f"{SR}/stamps",
        json={"client_scan_id": "x", "qr_text": a["ticket"]["qr_text"]},
        headers={"Authorization": gate["Authorization"]},
    )
    assert r.status == 403
    assert (
        await sr.post(f"{SR}/stamps", json={"client_scan_id": "x", "qr_text": "q"})
    ).status == 401
    assert (
        await sr.post(
            f"{SR}/stamps", json={"qr_text": "q"}, headers={"Authorization": booth["Authorization"]}
        )
    ).status == 422

    # Admitted at the gate: now the booth stamps.
    await known(db, "SELECT true FROM checkin.devices WHERE id = $1", uuid.UUID(gate["device_id"]))
    await known(db, "SELECT true FROM checkin.tickets WHERE id = $1", uuid.UUID(a["ticket"]["id"]))
    r = await chk.post(
        "/api/checkin/scans",
        json={"client_scan_id": "g1", "qr_text": a["ticket"]["qr_text"], "direction": "in"},
        headers={"Authorization": gate["Authorization"]},
    )
    assert (await r.json())["result"] == "admitted"
    await known(
        db,
        "SELECT true FROM stamprally.checked_in WHERE ticket_id = $1",
        uuid.UUID(a["ticket"]["id"]),
    )
    assert await reason(booth, a["ticket"]["qr_text"]) == "stamped"

    # Cancelled: the ticket is refused.
    r = await reg.post(
        f"{REG}/registrations/{a['id']}/cancel", headers={"X-Registration-Secret": a["secret"]}
    )
    assert r.status == 200
    await known(
        db, "SELECT revoked FROM stamprally.tickets WHERE id = $1", uuid.UUID(a["ticket"]["id"])
    )
    booth2 = await pair(reg, db, admin, slug, "booth", "b01")
    assert await reason(booth2, a["ticket"]["qr_text"]) == "cancelled"

    # A revoked device.
    r = await reg.post(f"{REG}/devices/{booth2['device_id']}/revoke", headers=admin)
    assert r.status in (200, 204)
    await known(
        db, "SELECT revoked FROM stamprally.devices WHERE id = $1", uuid.UUID(booth2["device_id"])
    )
    assert await reason(booth2, a["ticket"]["qr_text"]) == "device_revoked"

    # A closed rally.
    closed = await setup_rally(
        reg,
        sr,
        db,
        admin,
        closes_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        opens_at=(datetime.now(UTC) - timedelta(hours=3)).isoformat(),
    )
    c = await attendee(reg, db, closed, 4)
    closed_booth = await pair(reg, db, admin, closed, "booth", "b00")
    assert await reason(closed_booth, c["ticket"]["qr_text"]) == "rally_closed"
    assert await db.fetchval("SELECT count(*) FROM stamprally.stamps WHERE event = $1", closed) == 0


async def test_rally_set_up_is_validated_field_by_field(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    await known(db, "SELECT true FROM stamprally.events WHERE slug = $1", slug)
    bad = {
        "title": {"ja": ""},
        "min_stamps": 9,
        "required_booths": ["zz"],
        "booths": [
            {"code": "a", "name": {"en": "A"}, "kind": "country"},
            {"code": "a", "name": {"en": ""}, "kind": "food"},
        ],
        "prizes": [{"code": "Bad Code", "name": {"en": "x"}, "stock": 1}],
    }
    r = await sr.post(f"{SR}/events/{slug}/rally", json=bad, headers=admin)
    assert r.status == 422
    fields = {(e["field"], e["code"]) for e in (await r.json())["errors"]}
    assert {
        ("title", "required"),
        ("min_stamps", "out_of_range"),
        ("required_booths.0", "unknown_booth"),
        ("booths.1.code", "duplicate"),
        ("booths.1.name", "required"),
        ("prizes.0.code", "invalid"),
    } <= fields
    assert (await sr.get(f"{SR}/events/{slug}/rally")).status == 404, "nothing stored"

    # Names and descriptions have a length limit in each language, told in the asker's.
    long = {
        "title": {"ja": "ラリー"},
        "min_stamps": 1,
        "booths": [
            {
                "code": "a",
                "name": {"ja": "ア" * 101},
                "kind": "country",
                "description": {"ja": "短い説明", "en": "x" * 301},
            }
        ],
    }
    r = await sr.post(
        f"{SR}/events/{slug}/rally", json=long, headers={**admin, "Accept-Language": "ja"}
    )
    assert r.status == 422
    errors = {(e["field"], e["code"]): e["message"] for e in (await r.json())["errors"]}
    assert set(errors) == {
        ("booths.0.name.ja", "too_long"),
        ("booths.0.description.en", "too_long"),
    }
    assert errors[("booths.0.name.ja", "too_long")] != "This is too long.", "localized"
    assert (await sr.get(f"{SR}/events/{slug}/rally")).status == 404, "nothing stored"
    assert (
        await sr.post(f"{SR}/events/nope/rally", json={**bad, "title": {"en": "x"}}, headers=admin)
    ).status in (404, 422)
    assert (await sr.post(f"{SR}/events/{slug}/rally", json=bad)).status == 401


async def test_a_booths_description_is_kept_in_every_language_given_and_can_be_removed(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await setup_rally(reg, sr, db, admin, n_booths=2)
    about = {"ja": "カレーを売っています。", "en": "Curry for sale.", "ne": "तरकारी बिक्री"}
    body = {
        "title": {"ja": "スタンプラリー"},
        "min_stamps": 1,
        "booths": [{**booths(2)[0], "description": about}, booths(2)[1]],
    }
    r = await sr.put(f"{SR}/events/{slug}/rally", json=body, headers=admin)
    assert r.status == 200, await r.text()
    got = {b["code"]: b["description"] for b in (await r.json())["booths"]}
    assert got == {"b00": about, "b01": {}}
    public = await (await sr.get(f"{SR}/events/{slug}/rally")).json()
    assert public["booths"][0]["description"] == about
    # A later version without it removes it.
    body["booths"] = booths(2)
    r = await sr.put(f"{SR}/events/{slug}/rally", json=body, headers=admin)
    assert [b["description"] for b in (await r.json())["booths"]] == [{}, {}]


async def _walk(
    rt: Any,
    event: str,
    tickets: list[tuple[uuid.UUID, str]],
    devices: dict[str, list[Device]],
    *,
    unsafe: bool,
    seed: int,
) -> set[tuple[uuid.UUID, str]]:
    """Each attendee visits a random set of booths; at each visit both of the booth's
    devices scan the ticket at the same moment, and one of them retries."""
    rng = random.Random(seed)
    pairs: set[tuple[uuid.UUID, str]] = set()
    visits = []
    for ticket_id, qr in tickets:
        for booth in rng.sample(sorted(devices), rng.randint(1, 8)):
            pairs.add((ticket_id, booth))
            visits.append((qr, booth))
    rng.shuffle(visits)
    sem = asyncio.Semaphore(40)

    async def visit(qr: str, booth: str) -> None:
        async with sem:
            d1, d2 = devices[booth]
            scan_id = uuid.uuid4().hex
            await asyncio.gather(
                rally.stamp(rt, d1, scan_id, qr, unsafe_no_guard=unsafe),
                rally.stamp(rt, d2, uuid.uuid4().hex, qr, unsafe_no_guard=unsafe),
            )
            await rally.stamp(rt, d1, scan_id, qr, unsafe_no_guard=unsafe)  # a retry

    await asyncio.gather(*(visit(qr, booth) for qr, booth in visits))
    return pairs


async def test_500_walking_attendees_get_one_stamp_per_booth_and_the_control_double_counts(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    rt = sr.server.app[RUNTIME]
    ring = KeyRing.load_or_create(reg.server.app[RUNTIME].settings.data_dir / "keys")

    async def run(unsafe: bool, seed: int) -> tuple[int, int, int, int, int]:
        slug = await setup_rally(reg, sr, db, admin, n_booths=20, min_stamps=5)
        # Tickets signed with registration's key and known to stamprally's read model
        # (as ticket.issued would make them), so 500 attendees cost no registration calls.
        tickets = [(uuid.uuid4(), "") for _ in range(500)]
        tickets = [(t, sign_ticket(ring.active, t, slug)) for t, _ in tickets]
        await db.executemany(
            "INSERT INTO stamprally.tickets (id, event, registration_id, display_name, revision)"
            " VALUES ($1, $2, $3, 'A', 1)",
            [(t, slug, uuid.uuid4()) for t, _ in tickets],
        )
        devices = {
            b["code"]: [Device(uuid.uuid4(), slug, "booth", b["code"]) for _ in range(2)]
            for b in booths(20)
        }
        pairs = await _walk(rt, slug, tickets, devices, unsafe=unsafe, seed=seed)
        stamps = await db.fetchval("SELECT count(*) FROM stamprally.stamps WHERE event = $1", slug)
        counted = await db.fetchval(
            "SELECT sum(stamps) FROM stamprally.cards WHERE event = $1", slug
        )
        booth_total = await db.fetchval(
            "SELECT sum(stamps) FROM stamprally.booth_counts WHERE event = $1", slug
        )
        completed_facts = await db.fetchval(
            "SELECT count(*) FROM stamprally.outbox WHERE event_slug = $1"
            " AND event_type = 'rally.completed'",
            slug,
        )
        completing = sum(1 for t, _ in tickets if len([b for (tt, b) in pairs if tt == t]) >= 5)
        assert stamps == len(pairs)
        return len(pairs), counted, booth_total, completed_facts, completing

    batcher = rally.batcher(rt)
    before = (batcher.batches, batcher.items)
    pairs, counted, booth_total, completed, completing = await run(unsafe=False, seed=7)
    assert counted == pairs and booth_total == pairs
    assert completed == completing
    # Most scans went in batches (shared/batching.py), two devices' scans of one ticket
    # often in the same one: the guard held there too.
    batches, items = batcher.batches - before[0], batcher.items - before[1]
    assert batches > 0 and items > 2 * batches and items > pairs
    # Control: without the card's lock, simultaneous scans at one booth both count.
    pairs, counted, booth_total, completed, completing = await run(unsafe=True, seed=7)
    assert counted > pairs or completed > completing


async def test_three_prize_desks_hand_out_exactly_the_stock(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    rt = sr.server.app[RUNTIME]
    ring = KeyRing.load_or_create(reg.server.app[RUNTIME].settings.data_dir / "keys")
    slug = await setup_rally(
        reg,
        sr,
        db,
        admin,
        n_booths=2,
        min_stamps=1,
        prizes=[
            {"code": "badge", "name": {"en": "Mascot badge"}, "stock": 4},
            {"code": "bag", "name": {"en": "Eco bag"}, "stock": 6},
        ],
    )
    tickets = [uuid.uuid4() for _ in range(30)]
    await db.executemany(
        TICKET_ROW,
        [(t, slug, uuid.uuid4()) for t in tickets],
    )
    booth = Device(uuid.uuid4(), slug, "booth", "b00")
    qrs = [sign_ticket(ring.active, t, slug) for t in tickets]
    for qr in qrs:
        assert (await rally.stamp(rt, booth, uuid.uuid4().hex, qr))["completed"] is True
    desks = [Device(uuid.uuid4(), slug, "prize_desk", f"goal{i}") for i in range(3)]
    answers = await asyncio.gather(
        *(rally.redeem(rt, desks[i % 3], uuid.uuid4().hex, qr) for i, qr in enumerate(qrs))
    )
    results = [a["result"] for a in answers]
    assert results.count("redeemed") == 10 and results.count("out_of_stock") == 20
    given = {
        r["code"]: r["given"]
        for r in await db.fetch("SELECT code, given FROM stamprally.prizes WHERE event = $1", slug)
    }
    assert given == {"badge": 4, "bag": 6}
    prizes = [a["prize"]["code"] for a in answers if a["result"] == "redeemed"]
    assert prizes.count("badge") == 4 and prizes.count("bag") == 6


async def test_the_booths_rotating_code_stamps_a_card_and_forged_or_old_codes_do_not(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await setup_rally(reg, sr, db, admin)
    a = await attendee(reg, db, slug, 5)
    booth = await pair(reg, db, admin, slug, "booth", "b02")
    code = (
        await (
            await sr.get(f"{SR}/booth-code", headers={"Authorization": booth["Authorization"]})
        ).json()
    )["code"]
    secret = {"X-Registration-Secret": a["secret"]}
    url = f"{SR}/cards/{a['ticket']['id']}/stamps"
    ok = await (await sr.post(url, json={"booth_code": code}, headers=secret)).json()
    assert ok["result"] == "stamped" and ok["booth"] == "b02"
    assert (await (await sr.post(url, json={"booth_code": code}, headers=secret)).json())[
        "result"
    ] == "already_stamped"
    forged = code[:-3] + ("AAA" if not code.endswith("AAA") else "BBB")
    assert (await (await sr.post(url, json={"booth_code": forged}, headers=secret)).json())[
        "reason"
    ] == "invalid_code"
    key = await rally.booth_key(sr.server.app[RUNTIME])
    yesterday = domain.booth_code(key, slug, "b03", time.time() - 86_400)
    assert (await (await sr.post(url, json={"booth_code": yesterday}, headers=secret)).json())[
        "reason"
    ] == "expired_code"
    other_event = domain.booth_code(key, "another-event", "b03", time.time())
    assert (await (await sr.post(url, json={"booth_code": other_event}, headers=secret)).json())[
        "reason"
    ] == "invalid_code"
    assert (
        await sr.post(url, json={"booth_code": code}, headers={"X-Registration-Secret": "x"})
    ).status == 404


async def test_suspicion_flags_name_a_fast_device_and_a_quick_hop(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    rt = sr.server.app[RUNTIME]
    ring = KeyRing.load_or_create(reg.server.app[RUNTIME].settings.data_dir / "keys")
    slug = await setup_rally(reg, sr, db, admin, n_booths=3, min_stamps=3)
    tickets = [uuid.uuid4() for _ in range(65)]  # > 30 in one clock minute
    await db.executemany(
        TICKET_ROW,
        [(t, slug, uuid.uuid4()) for t in tickets],
    )
    fast = Device(uuid.uuid4(), slug, "booth", "b00")
    for t in tickets:
        await rally.stamp(rt, fast, uuid.uuid4().hex, sign_ticket(ring.active, t, slug))
    hop = Device(uuid.uuid4(), slug, "booth", "b01")
    await rally.stamp(rt, hop, uuid.uuid4().hex, sign_ticket(ring.active, tickets[0], slug))
    stats = await (await sr.get(f"{SR}/events/{slug}/stats", headers=admin)).json()
    assert [f["device_id"] for f in stats["flags"]["fast_devices"]] == [str(fast.id)]
    assert any(h["ticket_id"] == str(tickets[0]) for h in stats["flags"]["quick_hops"])
    html = await (await sr.get(f"/console/rally/{slug}", headers=_console(admin, "en"))).text()
    assert 'data-flags="fast"' in html and 'data-flags="hops"' in html
    assert "Phones that stamped more than 30 cards in one minute" in html


async def test_a_batch_kept_waiting_by_a_lock_gives_up_and_its_stamps_go_one_by_one(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    """A batch of booth scans that would wait on a lock held elsewhere (another replica's
    batch holding a booth's counter) stops after its lock_timeout and commits nothing;
    each scan is then decided on its own: the others at once, the blocked one when the
    lock is free. Every stamp is counted once."""
    rt = sr.server.app[RUNTIME]
    ring = KeyRing.load_or_create(reg.server.app[RUNTIME].settings.data_dir / "keys")
    slug = await setup_rally(reg, sr, db, admin, n_booths=2, min_stamps=2)
    b0, b1 = (Device(uuid.uuid4(), slug, "booth", f"b0{i}") for i in range(2))
    qr = lambda: sign_ticket(ring.active, uuid.uuid4(), slug)  # noqa: E731
    assert (await rally.stamp(rt, b0, "first", qr()))["result"] == "stamped"  # b00's row
    batcher = rally.batcher(rt)
    fallbacks = batcher.fallbacks
    async with db.acquire() as holder, holder.transaction():
        await holder.execute(
            "SELECT 1 FROM stamprally.booth_counts WHERE event = $1 AND booth = 'b00' FOR UPDATE",
            slug,
        )
        blocked = asyncio.ensure_future(rally.stamp(rt, b0, "held", qr()))
        others = [asyncio.ensure_future(rally.stamp(rt, b1, f"o{i}", qr())) for i in range(3)]
        done = await asyncio.wait_for(asyncio.gather(*others), timeout=10)
        assert [d["result"] for d in done] == ["stamped"] * 3
        assert not blocked.done()
        assert batcher.fallbacks == fallbacks + 1
    assert (await asyncio.wait_for(blocked, timeout=10))["result"] == "stamped"
    counted = await db.fetch(
        "SELECT booth, stamps FROM stamprally.booth_counts WHERE event = $1 ORDER BY booth", slug
    )
    assert [(r["booth"], r["stamps"]) for r in counted] == [("b00", 2), ("b01", 3)]
    assert await db.fetchval("SELECT count(*) FROM stamprally.stamps WHERE event = $1", slug) == 5


# -- the organizer console's rally form -----------------------------------------------------
def _console(admin: dict[str, str], lang: str, csrf: str | None = None) -> dict[str, str]:
    cookie = f"tomoni_session={admin['Authorization'][7:]}; tomoni_lang={lang}"
    return {"Cookie": cookie + (f"; tomoni_rally_csrf={csrf}" if csrf else "")}


async def test_the_console_form_sets_up_a_rally_and_a_bad_one_stores_nothing(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    await known(db, "SELECT true FROM stamprally.events WHERE slug = $1", slug)
    page = f"/console/rally/{slug}"

    anonymous = await sr.get(page, allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/console/login"
    first = await sr.get(page, headers=_console(admin, "ja"))
    html = await first.text()
    assert first.status == 200 and 'lang="ja"' in html
    assert html.count('name="booths.') >= 5 * 7, "five empty booth rows to fill"
    csrf = first.cookies["tomoni_rally_csrf"].value
    headers = _console(admin, "ja", csrf)

    # A bad form: every problem named at its field, in Japanese, and nothing stored.
    bad = {
        "csrf": csrf,
        "title.ja": "",
        "min_stamps": "two",
        "booths.0.code": "Vietnam!",
        "booths.0.name.ja": "ベトナム",
        "booths.1.code": "",  # an empty row: skipped
        "booths.2.code": "food",
        "booths.2.kind": "food",
        "booths.3.code": "food",
        "booths.3.name.en": "Food 2",
        "prizes.0.code": "bag",
        "prizes.0.name.ja": "エコバッグ",
        "prizes.0.stock": "-1",
        "opens_at": "2026-10-25T16:00",
        "closes_at": "2026-10-25T10:00",
    }
    r = await sr.post(page, headers=headers, data=bad, allow_redirects=False)
    html = await r.text()
    assert r.status == 422
    for field in (
        "title-ja",
        "min_stamps",
        "booths-0-code",
        "booths-2-name-ja",
        "booths-3-code",
        "prizes-0-stock",
        "closes_at",
    ):
        assert f'id="e-f-{field}"' in html, field
    ja = Translator("ja", locale_dirs=(console.LOCALE_DIR,), domain=console.DOMAIN)
    twice = ja.gettext("This code is used twice.")
    assert twice != "This code is used twice." and html.count(escape(twice)) >= 2  # list + field
    # The list at the top names each field with its row: "ブース 1: コード: …".
    booth_code = f"{ja.gettext('Booth %(n)s') % {'n': 1}}: {ja.gettext('Code')}: "
    assert escape(booth_code) in html
    assert 'value="Vietnam!"' in html, "what was typed stays in the form"
    assert (await sr.get(f"{SR}/events/{slug}/rally")).status == 404, "nothing stored"

    # A good one: the rally as the API tells it, times in the event's time zone.
    good = {
        "csrf": csrf,
        "title.ja": "世界一周スタンプラリー",
        "title.en": "Around the world",
        "min_stamps": "2",
        "requires_checkin": "1",
        "opens_at": "2026-10-25T10:00",
        "closes_at": "2026-10-25T16:00",
        "booths.0.code": "vietnam",
        "booths.0.kind": "country",
        "booths.0.name.ja": "ベトナム",
        "booths.0.name.en": "Vietnam",
        "booths.0.description.ja": "フォーがあります。",
        "booths.1.code": "info",
        "booths.1.kind": "info",
        "booths.1.name.ja": "案内所",
        "booths.1.required": "1",
        "booths.2.kind": "country",  # an empty row as the page sends it
        "prizes.0.code": "bag",
        "prizes.0.name.ja": "エコバッグ",
        "prizes.0.stock": "300",
    }
    r = await sr.post(page, headers=headers, data=good, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"{page}?saved=1", await r.text()
    rally = await (await sr.get(f"{SR}/events/{slug}/rally")).json()
    assert rally["title"] == {"ja": "世界一周スタンプラリー", "en": "Around the world"}
    assert (rally["min_stamps"], rally["required_booths"], rally["requires_checkin"]) == (
        2,
        ["info"],
        True,
    )
    assert datetime.fromisoformat(rally["opens_at"]) == datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert datetime.fromisoformat(rally["closes_at"]) == datetime(2026, 10, 25, 7, tzinfo=UTC)
    assert [(b["code"], b["kind"]) for b in rally["booths"]] == [
        ("vietnam", "country"),
        ("info", "info"),
    ]
    assert rally["booths"][0]["description"] == {"ja": "フォーがあります。"}
    assert [(p["code"], p["stock"]) for p in rally["prizes"]] == [("bag", 300)]

    # The page shows what is stored; a translation given through the API is kept by a
    # later save of the form, and an emptied row takes its booth out.
    shown = await (await sr.get(f"{page}?saved=1", headers=headers)).text()
    assert 'value="vietnam"' in shown and 'value="2026-10-25T10:00"' in shown
    assert 'role="status"' in shown
    body = {**rally, "booths": [dict(b) for b in rally["booths"]]}
    body["booths"][0]["name"] = {**body["booths"][0]["name"], "vi": "Việt Nam"}
    body = {k: v for k, v in body.items() if k not in ("event", "needed")} | {
        "prizes": [{"code": "bag", "name": {"ja": "エコバッグ"}, "stock": 300}]
    }
    r = await sr.put(f"{SR}/events/{slug}/rally", json=body, headers=admin)
    assert r.status == 200, await r.text()
    again = {**good, "booths.1.code": "", "booths.1.name.ja": "", "booths.1.required": ""}
    again["booths.0.name.ja"], again["min_stamps"] = "ベトナムのブース", "1"
    r = await sr.post(page, headers=headers, data=again, allow_redirects=False)
    assert r.status == 303, await r.text()
    rally = await (await sr.get(f"{SR}/events/{slug}/rally")).json()
    assert [b["code"] for b in rally["booths"]] == ["vietnam"]
    assert rally["booths"][0]["name"] == {
        "ja": "ベトナムのブース",
        "en": "Vietnam",
        "vi": "Việt Nam",
    }
    assert rally["required_booths"] == []


async def test_the_console_form_refuses_a_missing_token_and_another_events_organizer(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    await known(db, "SELECT true FROM stamprally.events WHERE slug = $1", slug)
    page = f"/console/rally/{slug}"
    form = {"title.ja": "ラリー", "min_stamps": "1", "booths.0.code": "a", "booths.0.name.ja": "A"}
    forged = await sr.post(page, headers=_console(admin, "en"), data=form, allow_redirects=False)
    assert forged.status == 403
    missing = await sr.get("/console/rally/no-such-event", headers=_console(admin, "en"))
    assert missing.status == 404
    assert (await sr.get(f"{SR}/events/{slug}/rally")).status == 404


async def test_the_console_page_lists_the_suspicion_flags_for_people(
    reg: TestClient, sr: TestClient, db: asyncpg.Pool, admin: dict[str, str]
) -> None:
    """A card stamped at two booths a moment apart is named by its printed ticket number,
    with the booths' names in the organizer's language; a quiet rally says so."""
    slug = await setup_rally(reg, sr, db, admin, n_booths=2)
    page = f"/console/rally/{slug}"
    quiet = await (await sr.get(page, headers=_console(admin, "en"))).text()
    assert "Nothing to check" in quiet and 'data-flags="hops"' not in quiet
    a = await attendee(reg, db, slug, 7)
    for code in ("b00", "b01"):
        booth = await pair(reg, db, admin, slug, "booth", code)
        assert (await stamp(sr, booth, a["ticket"]["qr_text"]))["result"] == "stamped"
    html = await (await sr.get(page, headers=_console(admin, "ja"))).text()
    hops = html[html.index('data-flags="hops"') :]
    tail = a["ticket"]["id"].replace("-", "")[-12:].upper()
    assert f"{tail[:4]}-{tail[4:8]}-{tail[8:]}" in hops
    assert "ブース0 → ブース1" in hops
    assert 'data-flags="fast"' not in html, "two stamps are not a fast phone"
