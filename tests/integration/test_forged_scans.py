"""10,000 forged and mutated tickets through the real scan API, and forged booth codes
through the card's self-stamp: none admitted or stamped, each answered ``200 rejected``
with its documented reason, and nothing stored as an admission or a stamp.

Registration, checkin and stamprally run on one origin (tests/e2e/scanner_support/
stack.py) with real PostgreSQL and NATS; the gate, the booth and the prize desk are
devices paired by an organizer over the API. The forged texts come from the in-process
module's forgers (tests/unit/test_forged_tokens.py), made from this event's genuine
tickets and with registration's own key ring where a class needs a real signature
(another event, another version, another signing context), plus typed ticket numbers that
match no ticket and scans of a genuine ticket of another event.

Most go through ``/api/checkin/scans/batch`` (the offline queue's sync, the fastest way
in), a share through ``/api/stamprally/stamps`` and ``/api/stamprally/redemptions``. The
control sends genuine tickets and a genuine booth code through the same functions: they
are admitted, stamped and redeemed, the checks of the answers report them, and the
database counts them.

Known failing (a product bug, reported, not fixed here): a booth code whose step is a
number outside 0…2⁶⁴−1 is answered 500 by the self-stamp route (see the last test).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from services.stamprally import domain as rally
from shared.security import KeyRing
from tests.e2e.scanner_support.stack import CHK, RALLY, REG, Stack, running_stack
from tests.unit.test_forged_tokens import BoothForger, Forged, Forger, signing_key

FORGED = 10_000
AT_THE_BOOTH = 2_000
AT_THE_PRIZE_DESK = 200  # the rest at the gate
TYPED_NUMBERS = 100
OTHER_EVENTS_TICKET = 100  # scans of a genuine ticket registered for another event
BOOTH_CODES = 500
BATCH = 250
BOOTHS = {"vn": ("ベトナム", "Vietnam"), "np": ("ネパール", "Nepal")}
PRIZES = {"bag": ("エコバッグ", "Eco bag")}
# The self-stamp's answers for check_booth_code's two reasons.
CODE_REASONS = {"invalid": "invalid_code", "expired": "expired_code"}

Sent = tuple[Forged, int, dict[str, Any]]  # what was sent, the status, the answer


@pytest.fixture(scope="module")
async def setup(
    make_settings: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Stack, Path]]:
    """The running stack and the folder of registration's key ring."""
    tmp = tmp_path_factory.mktemp("reg")
    async with running_stack(make_settings, database_url, tmp, stamprally=True) as stack:
        yield stack, tmp / "keys"


async def register(stack: Stack, slug: str, name: str) -> dict[str, Any]:
    """A registration (with its secret), once checkin and stamprally know its ticket."""
    made = await stack.post(
        f"{REG}/events/{slug}/registrations",
        {
            "category": "visitor",
            "name": name,
            "email": f"{uuid.uuid4().hex[:12]}@example.org",
            "language": "ja",
            "party_size": 1,
        },
    )
    ticket_id = uuid.UUID(made["ticket"]["id"])
    await stack.known(
        "SELECT true FROM checkin.tickets WHERE id = $1 AND party_size IS NOT NULL", ticket_id
    )
    await stack.rally_knows(ticket_id=str(ticket_id))
    return made


async def device(stack: Stack, slug: str, place: str, role: str) -> dict[str, str]:
    """A device paired over the API, once the service that it scans for knows it."""
    made = await stack.pairing(slug, place, role)
    paired = await stack.post(f"{REG}/devices/pair", {"pairing_code": made["pairing_code"]})
    if role == "gate":
        await stack.device_known(made["device_id"])
    else:
        await stack.rally_knows(device_id=made["device_id"])
    return {"Authorization": f"Bearer {paired['device_token']}"}


def is_text(item: Forged) -> bool:
    """Whether a QR code could hold it: any Unicode text. A lone surrogate (which the
    in-process run includes) is not; in a JSON body it makes the request a 422 problem,
    checked on its own below."""
    try:
        item.text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def typed_numbers(rng: random.Random, ticket_ids: list[str], n: int) -> list[Forged]:
    """What a volunteer types when a code will not scan: the 12 hex digits printed under
    it. Here each is a real ticket's number with one digit changed, or a random one, in
    the groupings the gate accepts; none is any ticket's."""
    real = {t.replace("-", "")[-12:] for t in ticket_ids}
    out = []
    while len(out) < n:
        if rng.random() < 0.5:
            number = rng.choice(sorted(real))
            i = rng.randrange(12)
            digit = rng.choice([c for c in "0123456789abcdef" if c != number[i]])
            number = number[:i] + digit + number[i + 1 :]
        else:
            number = f"{rng.getrandbits(48):012x}"
        if number in real:
            continue
        a, b, c = number[:4], number[4:8], number[8:]
        text = rng.choice([number, f"{a}-{b}-{c}", f"{a} {b} {c}", number.upper()])
        out.append(Forged("typed_number", text, "unknown_ticket"))
    return out


async def answer_of(response: Any) -> dict[str, Any]:
    text = await response.text()
    try:
        body: dict[str, Any] = json.loads(text)
    except ValueError:
        return {"unparsed": text[:200]}
    return body


async def scan_at_gate(stack: Stack, gate: dict[str, str], items: list[Forged]) -> list[Sent]:
    """Every item through ``/api/checkin/scans/batch``, 250 to a batch, four at a time."""
    limit = asyncio.Semaphore(4)
    run = uuid.uuid4().hex[:8]

    async def batch(n: int, chunk: list[Forged]) -> list[Sent]:
        body = {
            "scans": [
                {"client_scan_id": f"{run}-{n}-{i}", "qr_text": item.text, "direction": "in"}
                for i, item in enumerate(chunk)
            ]
        }
        async with limit:
            r = await stack.client.post(f"{CHK}/scans/batch", json=body, headers=gate)
            answer = await answer_of(r)
        results = answer.get("results")
        if r.status != 200 or not isinstance(results, list) or len(results) != len(chunk):
            return [(item, r.status, answer) for item in chunk]
        return [(item, r.status, result) for item, result in zip(chunk, results, strict=True)]

    chunks = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    done = await asyncio.gather(*(batch(n, c) for n, c in enumerate(chunks)))
    return [sent for chunk in done for sent in chunk]


async def scan_at(
    stack: Stack, path: str, device: dict[str, str], items: list[Forged]
) -> list[Sent]:
    """Every item through a stamp rally scan route (``/stamps`` at a booth,
    ``/redemptions`` at the prize desk), eight requests at a time."""
    limit = asyncio.Semaphore(8)

    async def one(item: Forged) -> Sent:
        async with limit:
            r = await stack.client.post(
                f"{RALLY}{path}",
                json={"client_scan_id": uuid.uuid4().hex, "qr_text": item.text},
                headers=device,
            )
            return item, r.status, await answer_of(r)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def self_stamp(stack: Stack, made: dict[str, Any], codes: list[Forged]) -> list[Sent]:
    """Booth codes scanned from the attendee's card page (``…/cards/{id}/stamps``)."""
    url = f"{RALLY}/cards/{made['ticket']['id']}/stamps"
    secret = {"X-Registration-Secret": made["secret"]}
    limit = asyncio.Semaphore(8)

    async def one(item: Forged) -> Sent:
        async with limit:
            r = await stack.client.post(url, json={"booth_code": item.text}, headers=secret)
            return item, r.status, await answer_of(r)

    return list(await asyncio.gather(*(one(item) for item in codes)))


def wrongly_answered(sent: list[Sent], expected: Callable[[Forged], str]) -> list[str]:
    """Every answer that is not ``200 rejected`` with the expected reason."""
    return [
        f"[{item.kind}] {item.text!r} -> {status} {answer}"
        for item, status, answer in sent
        if status != 200
        or answer.get("result") != "rejected"
        or answer.get("reason") != expected(item)
    ]


def at_the_rally(item: Forged) -> str:
    """The reason stamprally gives: as checkin's, but it reads no typed ticket numbers."""
    return "invalid_signature" if item.kind == "typed_number" else item.expected


def summary(sent: list[Sent]) -> Counter[str]:
    return Counter(f"{status} {a.get('result')}/{a.get('reason')}" for _, status, a in sent)


async def stored(stack: Stack, slug: str) -> dict[str, Any]:
    """What the event's admissions and stamps are in the database."""
    one = stack.db.fetchval
    return {
        "presence": await one("SELECT count(*) FROM checkin.presence WHERE event_slug = $1", slug),
        "scans_not_rejected": await one(
            "SELECT count(*) FROM checkin.scans WHERE event_slug = $1"
            " AND result IS DISTINCT FROM 'rejected'",
            slug,
        ),
        "admitted_people": await one(
            "SELECT coalesce(sum(admitted_people), 0) FROM checkin.gate_counts"
            " WHERE event_slug = $1",
            slug,
        ),
        "admitted_facts": await one(
            "SELECT count(*) FROM checkin.outbox WHERE event_slug = $1"
            " AND event_type = 'checkin.admitted'",
            slug,
        ),
        "stamps": await one("SELECT count(*) FROM stamprally.stamps WHERE event = $1", slug),
        "cards": await one("SELECT count(*) FROM stamprally.cards WHERE event = $1", slug),
        "booth_counts": await one(
            "SELECT coalesce(sum(stamps), 0) FROM stamprally.booth_counts WHERE event = $1",
            slug,
        ),
        "prizes_given": await one(
            "SELECT coalesce(sum(given), 0) FROM stamprally.prizes WHERE event = $1", slug
        ),
        "redeemed_cards": await one(
            "SELECT count(*) FROM stamprally.cards WHERE event = $1 AND redeemed_at IS NOT NULL",
            slug,
        ),
        "device_answers_not_rejected": await one(
            "SELECT count(*) FROM stamprally.scan_answers a"
            " JOIN stamprally.devices d ON d.id = a.device_id"
            " WHERE d.event = $1 AND a.result IS DISTINCT FROM 'rejected'",
            slug,
        ),
    }


async def test_10000_forged_tickets_at_a_gate_and_a_booth_are_rejected_and_nothing_is_stored(
    setup: tuple[Stack, Path],
) -> None:
    stack, keys_dir = setup
    started = time.perf_counter()
    slug, other = await stack.event(), await stack.event()
    await stack.rally(slug, BOOTHS, PRIZES, min_stamps=2)
    mine = [await register(stack, slug, f"Forge Base {i}") for i in range(3)]
    theirs = await stack.post(
        f"{REG}/events/{other}/registrations",
        {
            "category": "visitor",
            "name": "Other Event",
            "language": "ja",
            "party_size": 1,
            "email": f"{uuid.uuid4().hex[:12]}@example.org",
        },
    )
    gate = await device(stack, slug, "east", "gate")
    booth = await device(stack, slug, "vn", "booth")
    desk = await device(stack, slug, "goal", "prize_desk")
    ring = KeyRing.load_or_create(keys_dir)  # registration's own ring, read from its folder
    forger = Forger(
        slug,
        [m["ticket"]["qr_text"] for m in mine],
        signer=ring.active,
        stranger=signing_key(4),
        seed=2027,
    )
    rng = random.Random(2027)
    wanted = FORGED - TYPED_NUMBERS - OTHER_EVENTS_TICKET
    items = [
        *itertools.islice(filter(is_text, forger.stream(2 * wanted)), wanted),
        *typed_numbers(rng, [m["ticket"]["id"] for m in mine], TYPED_NUMBERS),
        *[Forged("registered_other_event", theirs["ticket"]["qr_text"], "wrong_event")]
        * OTHER_EVENTS_TICKET,
    ]
    rng.shuffle(items)
    at_booth, at_desk = items[:AT_THE_BOOTH], items[AT_THE_BOOTH : AT_THE_BOOTH + AT_THE_PRIZE_DESK]
    at_gate = items[AT_THE_BOOTH + AT_THE_PRIZE_DESK :]
    ready = time.perf_counter()

    gate_sent = await scan_at_gate(stack, gate, at_gate)
    gate_done = time.perf_counter()
    booth_sent = await scan_at(stack, "/stamps", booth, at_booth)
    desk_sent = await scan_at(stack, "/redemptions", desk, at_desk)
    booth_done = time.perf_counter()

    # Booth codes: the booth's real secret makes the other event's, the old and the
    # future codes; the rest are mutations of codes valid now.
    r = await stack.client.get(f"{RALLY}/booth-code", headers=booth)
    assert r.status == 200
    key = await stack.db.fetchval("SELECT value FROM stamprally.secrets WHERE name = 'booth_codes'")
    booth_forger = BoothForger(bytes(key), slug, tuple(BOOTHS), time.time(), seed=2027)
    codes = [f for f in booth_forger.stream(2 * BOOTH_CODES) if 1 <= len(f.text) <= 200]
    codes_sent = await self_stamp(stack, mine[0], codes[:BOOTH_CODES])
    codes_done = time.perf_counter()

    print(
        f"\nforged through the API: {len(gate_sent):,} at the gate (batch) in "
        f"{gate_done - ready:.1f} s ({len(gate_sent) / (gate_done - ready):,.0f}/s), "
        f"{len(booth_sent):,} at the booth and {len(desk_sent)} at the prize desk in "
        f"{booth_done - gate_done:.1f} s, "
        f"{len(codes_sent)} booth codes in {codes_done - booth_done:.1f} s; "
        f"set-up {ready - started:.1f} s"
    )
    print("  gate:", dict(summary(gate_sent)))
    print("  booth:", dict(summary(booth_sent)))
    print("  prize desk:", dict(summary(desk_sent)))
    print("  booth codes:", dict(summary(codes_sent)))

    assert len(gate_sent) + len(booth_sent) + len(desk_sent) == FORGED
    problems = wrongly_answered(gate_sent, lambda f: f.expected)
    problems += wrongly_answered(booth_sent + desk_sent, at_the_rally)
    problems += wrongly_answered(codes_sent, lambda f: CODE_REASONS[f.expected])
    assert problems == [], f"{len(problems)} wrong answers, e.g. {problems[:10]}"
    assert len(codes_sent) == BOOTH_CODES

    # A batch with one text that is no Unicode text is a 422 problem and stores nothing.
    broken = [at_gate[0], Forged("lone_surrogate", "T1.\ud800", "invalid_signature")]
    r = await stack.client.post(
        f"{CHK}/scans/batch",
        json={
            "scans": [
                {"client_scan_id": f"broken-{i}", "qr_text": f.text} for i, f in enumerate(broken)
            ]
        },
        headers=gate,
    )
    assert r.status == 422

    # Nothing stored as an admission or a stamp; every scan stored as a rejection.
    before = await stored(stack, slug)
    assert {name: n for name, n in before.items() if n} == {}
    assert await stack.db.fetchval(
        "SELECT count(*) FROM checkin.scans WHERE event_slug = $1 AND result = 'rejected'", slug
    ) == len(gate_sent)
    assert await stack.db.fetchval(
        "SELECT count(*) FROM stamprally.scan_answers a"
        " JOIN stamprally.devices d ON d.id = a.device_id"
        " WHERE d.event = $1 AND a.result = 'rejected'",
        slug,
    ) == len(booth_sent) + len(desk_sent)
    r = await stack.client.get(f"{CHK}/events/{slug}/counts", headers=stack.admin)
    counts = await r.json()
    assert (counts["admitted_parties"], counts["admitted_people"]) == (0, 0)
    r = await stack.client.get(f"{RALLY}/events/{slug}/stats", headers=stack.admin)
    stats = await r.json()
    assert stats["stamps_by_booth"] == {"vn": 0, "np": 0}

    # Control: genuine tickets and a genuine booth code through the same functions are
    # admitted and stamped, the checks above report them, and the database counts them.
    genuine = [Forged("genuine", m["ticket"]["qr_text"], "invalid_signature") for m in mine]
    admitted = await scan_at_gate(stack, gate, genuine)
    assert [a["result"] for _, _, a in admitted] == ["admitted"] * 3
    stamped = await scan_at(stack, "/stamps", booth, genuine)
    assert [a["result"] for _, _, a in stamped] == ["stamped"] * 3
    code = Forged("genuine", rally.booth_code(bytes(key), slug, "np", time.time()), "invalid")
    by_code = await self_stamp(stack, mine[0], [code])
    replayed = await self_stamp(stack, mine[0], [code])
    assert (by_code[0][2]["result"], replayed[0][2]["result"]) == ("stamped", "already_stamped")
    redeemed = await scan_at(stack, "/redemptions", desk, genuine[:1])  # two stamps: complete
    assert redeemed[0][2]["result"] == "redeemed"
    control = admitted + stamped + by_code + redeemed
    assert len(wrongly_answered(control, lambda f: f.expected)) == len(control) == 8
    after = await stored(stack, slug)
    assert (after["presence"], after["scans_not_rejected"], after["admitted_people"]) == (3, 3, 3)
    assert (after["stamps"], after["cards"], after["booth_counts"]) == (4, 3, 4)
    assert (after["prizes_given"], after["redeemed_cards"]) == (1, 1)
    assert after["device_answers_not_rejected"] == 4


@pytest.mark.parametrize("step", ["-1", str(2**64)])
async def test_a_booth_code_with_an_out_of_range_step_is_rejected_not_a_server_error(
    setup: tuple[Stack, Path], step: str
) -> None:
    """A number that is no 64-bit unsigned step is a forged code like any other:
    ``200 rejected / invalid_code``, nothing stored."""
    stack, _ = setup
    slug = await stack.event()
    await stack.rally(slug, BOOTHS, PRIZES)
    made = await register(stack, slug, "Step Range")
    code = Forged("out_of_range_step", f"{rally.BOOTH_CODE_PREFIX}vn.{step}.{'A' * 22}", "invalid")
    sent = await self_stamp(stack, made, [code])
    assert wrongly_answered(sent, lambda f: CODE_REASONS[f.expected]) == []
    assert (
        await stack.db.fetchval("SELECT count(*) FROM stamprally.stamps WHERE event = $1", slug)
        == 0
    )
