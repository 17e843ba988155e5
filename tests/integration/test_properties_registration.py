"""Capacity and the waiting list under any sequence of register, cancel, change of party
size, approve and reject: a hypothesis state machine drives the real registration service
(its HTTP API, real PostgreSQL) next to a small model of the documented rules, and after
every step checks the database and the API against it.

What must hold after every step (:func:`violations`):

- confirmed people (party sizes added up) never exceed a category's capacity;
- every registration has a valid status, the one the model expects, so each promotion
  went to the parties the documented rule names: the earliest waiting parties that fit,
  in order, a party too big for what is left keeping its place;
- the waiting parties keep their order, and the API numbers them 1..n in that order;
- nobody waits who would fit in the free places (the next arrival would pass them);
- the counters and the public event agree with the rows; one active ticket per confirmed
  registration and none for anyone else.

Hypothesis is synchronous and the service lives on the test's event loop, so the state
machine runs in a worker thread and hands each request to the loop. Each example makes a
fresh event, so examples never see each other's registrations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import Phase, event, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine as conjecture_engine
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from services.registration import domain
from tests.integration.regfixtures import Category, make_event, person, running_registration

T = TypeVar("T")
API = "/api/registration"
STATUSES = frozenset({"confirmed", "waitlisted", "pending_review", "rejected", "cancelled"})
ACTIVE = frozenset({"confirmed", "waitlisted", "pending_review"})

SETTINGS = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    # Nothing written into the checkout: a failure prints its steps, which is the repro.
    database=None,
)


@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


class Violation(AssertionError):
    """The service broke a rule, or answered other than the contract says."""


def expect(ok: bool, message: str) -> None:
    if not ok:
        raise Violation(message)


# -- the model ----------------------------------------------------------------------------
@dataclass
class Party:
    """One registration as the model sees it."""

    label: str  # p0, p1, … in the order they registered: what failure messages name
    id: str
    secret: str
    category: str
    size: int
    status: str


@dataclass
class Model:
    """The documented rules, for one event, written as plainly as possible."""

    capacity: dict[str, int]
    max_party: dict[str, int]
    review: dict[str, bool]
    parties: dict[str, Party] = field(default_factory=dict)
    queue: dict[str, list[str]] = field(default_factory=dict)  # waiting ids, first in line first
    log: list[str] = field(default_factory=list)  # what happened, for the run's statistics

    @classmethod
    def of(cls, categories: Iterable[Category]) -> Model:
        cats = list(categories)
        return cls(
            capacity={c.code: c.capacity for c in cats},
            max_party={c.code: c.max_party_size for c in cats},
            review={c.code: c.review for c in cats},
            queue={c.code: [] for c in cats},
        )

    def free(self, code: str) -> int:
        taken = sum(
            p.size for p in self.parties.values() if p.category == code and p.status == "confirmed"
        )
        return self.capacity[code] - taken

    def place(self, p: Party) -> None:
        """A party that may have a place now: confirmed if it fits, else last in line."""
        if p.size <= self.free(p.category):
            p.status = "confirmed"
        else:
            p.status = "waitlisted"
            self.queue[p.category].append(p.id)
            self.log.append("waitlisted")

    def add(self, p: Party) -> None:
        self.parties[p.id] = p
        if self.review[p.category]:
            p.status = "pending_review"
        else:
            self.place(p)

    def end(self, p: Party, status: str) -> None:
        was = p.status
        p.status = status
        if was == "waitlisted":
            self.queue[p.category].remove(p.id)
        if was == "confirmed":
            self.promote(p.category)

    def resize(self, p: Party, size: int) -> None:
        """A smaller confirmed party frees places for the waiting list at once; a smaller
        waiting party may now fit the places that are free, and it is the earliest
        waiting party that does (every one before it is too big, or it would not wait)."""
        shrunk = size < p.size
        p.size = size
        if shrunk and p.status in ("confirmed", "waitlisted"):
            self.promote(p.category)

    def promote(self, code: str) -> None:
        """A freed place goes to the earliest waiting parties that fit, in order; a party
        too big for what is left keeps its place."""
        passed_over = False
        for pid in list(self.queue[code]):
            p = self.parties[pid]
            if p.size <= self.free(code):
                p.status = "confirmed"
                self.queue[code].remove(pid)
                self.log.append("promoted" + (" past a party too big" if passed_over else ""))
            else:
                passed_over = True


# -- what the database and the API say ------------------------------------------------------
@dataclass(frozen=True)
class Row:
    category: str
    status: str
    size: int
    seq: int | None  # waitlist_seq: the queue order
    position: int | None  # waitlist_position in the organizer's list
    tickets: int  # active tickets


@dataclass(frozen=True)
class Counts:
    capacity: int
    confirmed: int
    waitlist_people: int
    waitlist_parties: int
    pending: int
    remaining: int  # the public event's figures
    waitlist_length: int


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, Row]
    counts: dict[str, Counts]


async def post_json(
    client: TestClient, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    r = await client.post(path, json=body, headers=headers)
    return r.status, await r.json(content_type=None)


async def take_snapshot(
    client: TestClient, admin: dict[str, str], db: asyncpg.Pool, slug: str
) -> Snapshot:
    regs = await db.fetch(
        "SELECT r.id::text AS id, r.category_code, r.status, r.party_size, r.waitlist_seq,"
        " (SELECT count(*) FROM registration.tickets t"
        "  WHERE t.registration_id = r.id AND t.status = 'active') AS tickets"
        " FROM registration.registrations r WHERE r.event_slug = $1",
        slug,
    )
    cats = await db.fetch(
        "SELECT code, capacity, confirmed_people, waitlist_people, waitlist_parties,"
        " pending_people FROM registration.categories WHERE event_slug = $1",
        slug,
    )
    r = await client.get(f"{API}/events/{slug}/registrations?limit=500", headers=admin)
    assert r.status == 200, await r.text()
    listed = {i["id"]: i for i in (await r.json())["items"]}
    r = await client.get(f"{API}/events/{slug}")
    assert r.status == 200, await r.text()
    public = {c["code"]: c for c in (await r.json())["categories"]}
    return Snapshot(
        rows={
            x["id"]: Row(
                category=x["category_code"],
                status=x["status"],
                size=x["party_size"],
                seq=x["waitlist_seq"],
                position=listed[x["id"]]["waitlist_position"] if x["id"] in listed else -1,
                tickets=x["tickets"],
            )
            for x in regs
        },
        counts={
            c["code"]: Counts(
                capacity=c["capacity"],
                confirmed=c["confirmed_people"],
                waitlist_people=c["waitlist_people"],
                waitlist_parties=c["waitlist_parties"],
                pending=c["pending_people"],
                remaining=public[c["code"]]["remaining"],
                waitlist_length=public[c["code"]]["waitlist_length"],
            )
            for c in cats
        },
    )


def violations(model: Model, snap: Snapshot) -> list[str]:
    """Every broken rule in one snapshot (empty: all hold)."""
    out: list[str] = []

    def name(rid: str) -> str:
        return model.parties[rid].label if rid in model.parties else f"unknown {rid}"

    for code, n in snap.counts.items():
        rows = {rid: r for rid, r in snap.rows.items() if r.category == code}
        confirmed = sum(r.size for r in rows.values() if r.status == "confirmed")
        if confirmed > n.capacity:
            out.append(f"{code}: {confirmed} people confirmed for {n.capacity} places")
        free = n.capacity - confirmed
        waiting = sorted(
            (rid for rid, r in rows.items() if r.status == "waitlisted"),
            key=lambda rid: (rows[rid].seq is None, rows[rid].seq or 0),
        )
        for rid in waiting:
            if rows[rid].size <= free:
                out.append(
                    f"{code}: {name(rid)} ({rows[rid].size} people) waits"
                    f" although {free} places are free"
                )
        if [name(rid) for rid in waiting] != [name(rid) for rid in model.queue.get(code, [])]:
            out.append(
                f"{code}: queue order is {[name(rid) for rid in waiting]},"
                f" expected {[name(rid) for rid in model.queue.get(code, [])]}"
            )
        positions = [rows[rid].position for rid in waiting]
        if positions != list(range(1, len(waiting) + 1)):
            out.append(f"{code}: waitlist positions {positions} in queue order")
        for rid, r in rows.items():
            if r.status != "waitlisted" and r.position is not None:
                out.append(f"{code}: {name(rid)} is {r.status} with position {r.position}")
        people = {s: sum(r.size for r in rows.values() if r.status == s) for s in STATUSES}
        counters = {
            "confirmed_people": (n.confirmed, people["confirmed"]),
            "waitlist_people": (n.waitlist_people, people["waitlisted"]),
            "waitlist_parties": (n.waitlist_parties, len(waiting)),
            "pending_people": (n.pending, people["pending_review"]),
            "public remaining": (n.remaining, max(0, free)),
            "public waitlist_length": (n.waitlist_length, len(waiting)),
        }
        for what, (kept, actual) in counters.items():
            if kept != actual:
                out.append(f"{code}: counter {what} is {kept}, the rows say {actual}")
    for rid, r in snap.rows.items():
        if r.status not in STATUSES:
            out.append(f"{name(rid)}: invalid status {r.status!r}")
        if r.tickets != (1 if r.status == "confirmed" else 0):
            out.append(f"{name(rid)}: {r.status} with {r.tickets} active tickets")
    for rid in snap.rows.keys() - model.parties.keys():
        out.append(f"registration {rid} stored that the model never made")
    for rid, p in model.parties.items():
        got = snap.rows.get(rid)
        if got is None:
            out.append(f"{p.label}: missing")
        elif (got.status, got.size) != (p.status, p.size):
            out.append(
                f"{p.label}: {got.status} with {got.size} people, expected {p.status} with {p.size}"
            )
    return out


# -- the state machine ----------------------------------------------------------------------
@dataclass
class Driver:
    """Runs the service's side of a step on the event loop, from the machine's thread."""

    client: TestClient
    admin: dict[str, str]
    db: asyncpg.Pool
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        return self.run(post_json(self.client, path, body, headers))


SIZES = st.integers(1, 4)
# The open category is drawn three times as often: its waiting list is the one that moves.
CATEGORIES = ["visitor", "visitor", "visitor", "speaker"]


class RegistrationMachine(RuleBasedStateMachine):
    """One event with an open category (``visitor``) and one under review (``speaker``)."""

    driver: ClassVar[Driver]
    parties = Bundle("parties")

    def __init__(self) -> None:
        super().__init__()
        self.model: Model | None = None
        self.slug = ""
        self.made = 0

    @initialize(
        target=parties,
        visitors=st.integers(0, 6),
        speakers=st.integers(0, 4),
        max_party=st.integers(2, 4),
        arrivals=st.lists(st.tuples(st.sampled_from(CATEGORIES), SIZES), min_size=2, max_size=10),
    )
    def make_event_and_register(
        self, visitors: int, speakers: int, max_party: int, arrivals: list[tuple[str, int]]
    ) -> Any:
        """A fresh event; the first arrivals at once, so that a run's few steps start
        from full categories and waiting lists."""
        cats = (
            Category(
                code="visitor", title={"ja": "来場者"}, capacity=visitors, max_party_size=max_party
            ),
            Category(
                code="speaker",
                title={"ja": "出場者"},
                capacity=speakers,
                max_party_size=max_party,
                review=True,
            ),
        )
        self.slug = self.driver.run(make_event(self.driver.client, *cats))
        self.model = Model.of(cats)
        made = [self._register(category, size) for category, size in arrivals]
        return multiple(*(p for p in made if isinstance(p, Party)))

    @property
    def m(self) -> Model:
        assert self.model is not None
        return self.model

    def _register(self, category: str, size: int) -> Any:
        label = f"p{self.made}"
        body = person(self.made, category=category, party_size=size)
        self.made += 1
        status, answer = self.driver.post(f"{API}/events/{self.slug}/registrations", body)
        if size > self.m.max_party[category]:
            expect(status == 422, f"register {label} of {size}: {status} {answer}")
            return multiple()
        expect(status == 201, f"register {label}: {status} {answer}")
        p = Party(label, answer["id"], answer["secret"], category, size, "")
        self.m.add(p)
        expect(answer["status"] == p.status, f"register {label}: {answer}, expected {p.status}")
        if p.status == "waitlisted":
            queue = len(self.m.queue[category])
            expect(
                answer["waitlist_position"] == queue,
                f"register {label}: position {answer['waitlist_position']}, expected {queue}",
            )
        return p

    @rule(target=parties, category=st.sampled_from(CATEGORIES), size=SIZES)
    def register(self, category: str, size: int) -> Any:
        return self._register(category, size)

    def _end(self, p: Party, new: str) -> None:
        if new == "cancelled":
            path, headers = f"{API}/registrations/{p.id}/cancel", self.secret_of(p)
        else:
            path, headers = f"{API}/registrations/{p.id}/reject", self.driver.admin
        status, answer = self.driver.post(path, headers=headers)
        if p.status in ACTIVE:
            expect(status == 200, f"{new} {p.label} ({p.status}): {status} {answer}")
            self.m.end(p, new)
            expect(answer["status"] == new, f"{new} {p.label}: {answer}")
        elif p.status == new:  # a retry changes nothing
            expect(status == 200, f"{new} {p.label} again: {status} {answer}")
        else:
            expect(status == 409, f"{new} {p.label} ({p.status}): {status} {answer}")

    def _change(self, p: Party, size: int) -> None:
        status, answer = self.driver.post(
            f"{API}/registrations/{p.id}/change", {"party_size": size}, self.secret_of(p)
        )
        what = f"change {p.label} ({p.status}, {p.size}) to {size}"
        if size > self.m.max_party[p.category]:
            expect(status == 422, f"{what}: {status} {answer}")
        elif p.status not in ACTIVE:
            expect(status == 409, f"{what}: {status} {answer}")
        elif p.status == "confirmed" and size - p.size > self.m.free(p.category):
            expect(status == 409, f"{what}: {status} {answer}, expected no_capacity")
            self.m.log.append("larger party refused: no capacity")
        else:
            expect(status == 200, f"{what}: {status} {answer}")
            self.m.resize(p, size)
            expect(answer["party_size"] == size, f"{what}: {answer}")

    @staticmethod
    def secret_of(p: Party) -> dict[str, str]:
        return {"X-Registration-Secret": p.secret}

    @rule(p=parties)
    def cancel(self, p: Party) -> None:
        self._end(p, "cancelled")

    @rule(p=parties)
    def reject(self, p: Party) -> None:
        self._end(p, "rejected")

    @rule(p=parties)
    def approve(self, p: Party) -> None:
        status, answer = self.driver.post(
            f"{API}/registrations/{p.id}/approve", headers=self.driver.admin
        )
        if p.status == "pending_review":
            expect(status == 200, f"approve {p.label}: {status} {answer}")
            self.m.place(p)
            expect(answer["status"] == p.status, f"approve {p.label}: {answer}, not {p.status}")
        elif p.status in ("confirmed", "waitlisted"):  # approved already: nothing changes
            expect(status == 200, f"approve {p.label} ({p.status}): {status} {answer}")
        else:
            expect(status == 409, f"approve {p.label} ({p.status}): {status} {answer}")

    @rule(p=parties, size=SIZES)
    def change_party_size(self, p: Party, size: int) -> None:
        self._change(p, size)

    # Drawn from all parties, most steps would touch a pending or ended one; promotions
    # happen when a confirmed party leaves or shrinks and a waiting one changes, so two
    # rules aim at those.
    @precondition(
        lambda self: (
            self.model is not None
            and any(p.status == "confirmed" for p in self.model.parties.values())
        )
    )
    @rule(i=st.integers(0, 7), how=st.sampled_from(["cancelled", "rejected", "shrunk"]), by=SIZES)
    def a_confirmed_party_frees_places(self, i: int, how: str, by: int) -> None:
        confirmed = [p for p in self.m.parties.values() if p.status == "confirmed"]
        p = confirmed[i % len(confirmed)]
        if how == "shrunk":
            self._change(p, max(1, p.size - by))
        else:
            self._end(p, how)

    @precondition(
        lambda self: (
            self.model is not None
            and any(p.status == "waitlisted" for p in self.model.parties.values())
        )
    )
    @rule(i=st.integers(0, 7), size=SIZES)
    def a_waiting_party_changes_size(self, i: int, size: int) -> None:
        waiting = [p for p in self.m.parties.values() if p.status == "waitlisted"]
        self._change(waiting[i % len(waiting)], size)

    @invariant()
    def database_and_api_agree_with_the_rules(self) -> None:
        if self.model is None:
            return
        d = self.driver
        snap = d.run(take_snapshot(d.client, d.admin, d.db, self.slug))
        problems = violations(self.model, snap)
        expect(not problems, "\n".join(problems))
        for what in self.model.log:  # shown by pytest --hypothesis-show-statistics
            event(what)
        self.model.log.clear()


def machine_for(
    driver: Driver, base: type[RegistrationMachine] = RegistrationMachine
) -> type[RegistrationMachine]:
    return type(base.__name__, (base,), {"driver": driver})


async def run_machine(
    driver: Driver, how: settings, base: type[RegistrationMachine] = RegistrationMachine
) -> None:
    await asyncio.to_thread(run_state_machine_as_test, machine_for(driver, base), settings=how)


# -- the property -------------------------------------------------------------------------
# Every step of a shrink replays a sequence against the database; five minutes of that
# (hypothesis's default) is too long for a test run, and the first seconds of shrinking
# give a short sequence already. Hypothesis documents this constant as monkeypatchable.
SHRINK_SECONDS = 10


async def test_no_sequence_oversells_a_category_or_skips_the_waiting_list(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 fresh events, each through up to 20 steps, every step checked (module docstring)."""
    monkeypatch.setattr(conjecture_engine, "MAX_SHRINKING_SECONDS", SHRINK_SECONDS)
    await run_machine(Driver(reg, admin, db, asyncio.get_running_loop()), SETTINGS)


async def register_party(
    client: TestClient, slug: str, model: Model, i: int, category: str, size: int
) -> Party:
    """Register p<i> and check the answer against the model."""
    status, answer = await post_json(
        client, f"{API}/events/{slug}/registrations", person(i, category=category, party_size=size)
    )
    assert status == 201, answer
    p = Party(f"p{i}", answer["id"], answer["secret"], category, size, "")
    model.add(p)
    assert answer["status"] == p.status, (answer, p)
    return p


async def test_a_waiting_party_that_shrinks_to_fit_takes_the_free_place_before_a_later_one(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool
) -> None:
    """The state machine's shortest failing sequence, kept as a fixed case: 1 place; a party
    of 2 waits for it; they change to 1 person. They are now the first waiting party that
    fits the free place, so it is theirs; left waiting (``service.change`` promotes only
    after a confirmed party shrinks), the next arrival of 1 takes it past them."""
    cats = (Category(code="visitor", title={"ja": "来場者"}, capacity=1, max_party_size=2),)
    slug = await make_event(reg, *cats)
    model = Model.of(cats)
    p0 = await register_party(reg, slug, model, 0, "visitor", 2)
    assert p0.status == "waitlisted"
    status, answer = await post_json(
        reg,
        f"{API}/registrations/{p0.id}/change",
        {"party_size": 1},
        {"X-Registration-Secret": p0.secret},
    )
    assert status == 200, answer
    model.resize(p0, 1)
    assert violations(model, await take_snapshot(reg, admin, db, slug)) == []
    p1 = await register_party(reg, slug, model, 1, "visitor", 1)
    assert (p0.status, p1.status) == ("confirmed", "waitlisted")


# -- controls: the checks can fail ----------------------------------------------------------
def _checked_state() -> tuple[Model, Snapshot]:
    """A correct state by hand: 3 places; p0 (2) confirmed; p1 (2) and p2 (3) waiting, in
    that order, both too big for the 1 place left; p3 (1) pending review elsewhere."""
    model = Model(
        capacity={"visitor": 3, "speaker": 2},
        max_party={"visitor": 4, "speaker": 4},
        review={"visitor": False, "speaker": True},
        queue={"visitor": ["b", "c"], "speaker": []},
    )
    for label, rid, cat, size, status in [
        ("p0", "a", "visitor", 2, "confirmed"),
        ("p1", "b", "visitor", 2, "waitlisted"),
        ("p2", "c", "visitor", 3, "waitlisted"),
        ("p3", "d", "speaker", 1, "pending_review"),
    ]:
        model.parties[rid] = Party(label, rid, "", cat, size, status)
    snap = Snapshot(
        rows={
            "a": Row("visitor", "confirmed", 2, None, None, 1),
            "b": Row("visitor", "waitlisted", 2, 10, 1, 0),
            "c": Row("visitor", "waitlisted", 3, 11, 2, 0),
            "d": Row("speaker", "pending_review", 1, None, None, 0),
        },
        counts={
            "visitor": Counts(3, 2, 5, 2, 0, 1, 2),
            "speaker": Counts(2, 0, 0, 0, 1, 2, 0),
        },
    )
    return model, snap


def _rows(snap: Snapshot, **changed: Row) -> Snapshot:
    return replace(snap, rows={**snap.rows, **changed})


BAD_STATES: dict[str, tuple[Callable[[Model, Snapshot], Snapshot], str]] = {
    # p1 confirmed although only 1 place was left (the model agrees: only capacity speaks)
    "oversold": (
        lambda m, s: _rows(s, b=replace(s.rows["b"], status="confirmed", seq=None, position=None)),
        "4 people confirmed for 3 places",
    ),
    "queue_order_swapped": (
        lambda m, s: _rows(s, b=replace(s.rows["b"], seq=12), c=replace(s.rows["c"], position=1)),
        "queue order is ['p2', 'p1']",
    ),
    "positions_not_1_to_n": (
        lambda m, s: _rows(s, c=replace(s.rows["c"], position=3)),
        "waitlist positions [1, 3]",
    ),
    "waits_although_it_fits": (
        lambda m, s: _rows(s, b=replace(s.rows["b"], size=1)),
        "p1 (1 people) waits although 1 places are free",
    ),
    "promoted_the_wrong_party": (
        lambda m, s: _rows(s, d=replace(s.rows["d"], status="confirmed", tickets=1)),
        "p3: confirmed with 1 people, expected pending_review",
    ),
    "invalid_status": (
        lambda m, s: _rows(s, d=replace(s.rows["d"], status="lost")),
        "p3: invalid status 'lost'",
    ),
    "ticket_for_a_waiting_party": (
        lambda m, s: _rows(s, b=replace(s.rows["b"], tickets=1)),
        "p1: waitlisted with 1 active tickets",
    ),
    "counter_drifted": (
        lambda m, s: replace(
            s, counts={**s.counts, "visitor": replace(s.counts["visitor"], confirmed=1)}
        ),
        "counter confirmed_people is 1, the rows say 2",
    ),
    "stored_from_nowhere": (
        lambda m, s: _rows(s, e=Row("speaker", "pending_review", 1, None, None, 0)),
        "registration e stored that the model never made",
    ),
}


def test_control_the_hand_made_correct_state_passes() -> None:
    assert violations(*_checked_state()) == []


@pytest.mark.parametrize("bad", sorted(BAD_STATES))
def test_control_each_broken_rule_is_reported(bad: str) -> None:
    model, snap = _checked_state()
    spoil, message = BAD_STATES[bad]
    found = violations(model, spoil(model, snap))
    assert any(message in v for v in found), found


async def test_control_a_state_spoiled_in_the_database_is_reported(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool
) -> None:
    """The snapshot reads the right rows: real registrations, then a spoiled database."""
    cats = (Category(code="visitor", title={"ja": "来場者"}, capacity=2, max_party_size=2),)
    slug = await make_event(reg, *cats)
    model = Model.of(cats)
    for i in range(4):  # p0, p1 confirmed; p2, p3 waiting
        status, answer = await post_json(
            reg, f"{API}/events/{slug}/registrations", person(i, category="visitor")
        )
        assert status == 201
        model.add(Party(f"p{i}", answer["id"], answer["secret"], "visitor", 1, ""))
    assert [p.status for p in model.parties.values()] == ["confirmed"] * 2 + ["waitlisted"] * 2
    assert violations(model, await take_snapshot(reg, admin, db, slug)) == []
    p2, p3 = model.queue["visitor"]
    await db.execute(
        "UPDATE registration.registrations SET waitlist_seq = -waitlist_seq WHERE id = $1", p3
    )
    found = violations(model, await take_snapshot(reg, admin, db, slug))
    assert any("queue order is ['p3', 'p2']" in v for v in found), found
    await db.execute(
        "UPDATE registration.registrations SET status = 'confirmed', waitlist_seq = NULL"
        " WHERE id = $1",
        p2,
    )
    found = violations(model, await take_snapshot(reg, admin, db, slug))
    assert any("3 people confirmed for 2 places" in v for v in found), found


REAL_PLAN = domain.plan_promotions


def _latest_first(free: int, waiting: list[tuple[object, int]]) -> list[object]:
    """A wrong rule: the last to join the queue is promoted first."""
    return REAL_PLAN(free, list(reversed(waiting)))


class WithoutResizing(RegistrationMachine):
    """The machine without the rules that change a waiting party's size (a confirmed
    party still shrinks through ``a_confirmed_party_frees_places``). Hypothesis collects
    rules by name, so a plain method of the same name takes a rule out."""

    def change_party_size(self, p: Party, size: int) -> None:
        raise AssertionError("not a rule here")

    def a_waiting_party_changes_size(self, i: int, size: int) -> None:
        raise AssertionError("not a rule here")


async def test_control_the_machine_catches_promotions_out_of_queue_order(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same machine against a service that promotes the latest waiting party first:
    hypothesis finds a sequence that shows it (no shrinking: finding it is the point).
    Without the rules that change a waiting party's size, so that what it finds is this
    wrong rule and not the bug ``test_a_waiting_party_that_shrinks_to_fit…`` keeps."""
    monkeypatch.setattr(domain, "plan_promotions", _latest_first)
    control = settings(
        SETTINGS,
        max_examples=60,
        derandomize=True,
        phases=[Phase.generate],
        report_multiple_bugs=False,
    )
    driver = Driver(reg, admin, db, asyncio.get_running_loop())
    with pytest.raises(Violation, match="queue order is"):
        await run_machine(driver, control, WithoutResizing)
