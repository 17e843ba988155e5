"""Properties of the domains' pure rules, taken from their docstrings and API.md rather
than from their code.

Each family has a checker that names what the documented rule forbids (``…_violations``),
a property that the real function never trips it on any input hypothesis draws, and a
control: the same checker and the same inputs against a deliberately wrong function,
where hypothesis must find an input that exposes it, so the property can fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from services.checkin import domain as checkin
from services.registration import domain as registration
from services.stamprally import domain as rally

T = TypeVar("T")

PROPERTY = settings(max_examples=200, deadline=None, database=None)
# Controls search until the wrong function shows (derandomized: the same search each run),
# and stop there: the input that shows it need not be the shortest.
CONTROL = settings(
    max_examples=5000,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.generate],
)


def counterexample(strategy: st.SearchStrategy[T], violations: Callable[[T], list[str]]) -> T:
    """The input on which the checker catches a wrong function; fails if there is none."""
    found = find(strategy, lambda case: bool(violations(case)), settings=CONTROL)
    assert violations(found)
    return found


# == registration: who a freed place goes to ===============================================
Waiting = list[tuple[object, int]]
Plan = Callable[[int, Waiting], list[object]]


def _queue(sizes: list[int]) -> Waiting:
    return [(f"r{i}", size) for i, size in enumerate(sizes)]


waiting_lists = st.lists(st.integers(1, registration.MAX_PARTY), max_size=12).map(_queue)
promotion_cases = st.tuples(st.integers(-3, 45), waiting_lists)


def promotion_violations(plan: Plan, case: tuple[int, Waiting]) -> list[str]:
    """API.md: "A freed place goes to the earliest waiting parties that fit, in order; a
    party too big to fit keeps its place." So: each promoted party is waiting, promoted
    once, in queue order; never more people than free places; walking the queue, no
    party that fits what the earlier promotions left is passed over; afterwards nobody
    still waiting fits what is left."""
    free, waiting = case
    chosen = plan(free, list(waiting))
    size = dict(waiting)
    out: list[str] = []
    if len(set(chosen)) != len(chosen):
        out.append(f"promoted twice: {chosen}")
    if any(k not in size for k in chosen):
        out.append(f"promoted a party that was not waiting: {chosen}")
    if list(chosen) != [k for k, _ in waiting if k in chosen]:
        out.append(f"promoted out of queue order: {chosen}")
    people = sum(size.get(k, 0) for k in set(chosen))
    if people > max(free, 0):
        out.append(f"{people} people promoted into {free} free places")
    left = free
    for k, s in waiting:
        if k in chosen:
            left -= s
        elif s <= left:
            out.append(f"{k} ({s} people) passed over with {left} places left")
    still = [s for k, s in waiting if k not in chosen]
    if any(s <= free - people for s in still):
        out.append(f"a party of {min(still)} still waits with {free - people} places left")
    return out


@PROPERTY
@given(promotion_cases)
def test_promotions_take_the_earliest_waiting_parties_that_fit_and_never_more(
    case: tuple[int, Waiting],
) -> None:
    assert promotion_violations(registration.plan_promotions, case) == []


def _stops_at_the_first_too_big(free: int, waiting: Waiting) -> list[object]:
    chosen = []
    for key, size in waiting:
        if size > free:
            break
        chosen.append(key)
        free -= size
    return chosen


def _off_by_one(free: int, waiting: Waiting) -> list[object]:
    return registration.plan_promotions(free - 1, waiting)


WRONG_PLANS: dict[str, Plan] = {
    "latest_first": lambda free, w: registration.plan_promotions(free, w[::-1]),
    "biggest_first": lambda free, w: registration.plan_promotions(
        free, sorted(w, key=lambda p: -p[1])
    ),
    "ignores_free_places": lambda free, w: [k for k, _ in w],
    "stops_at_the_first_too_big": _stops_at_the_first_too_big,
    "a_party_that_fills_the_places_exactly_waits": _off_by_one,
}


@pytest.mark.parametrize("wrong", sorted(WRONG_PLANS))
def test_control_a_wrong_promotion_rule_is_caught(wrong: str) -> None:
    counterexample(promotion_cases, lambda case: promotion_violations(WRONG_PLANS[wrong], case))


# == registration: a registration's statuses ===============================================
STATUSES = ("confirmed", "waitlisted", "pending_review", "rejected", "cancelled")
ENDED = ("rejected", "cancelled")
statuses = st.one_of(st.sampled_from(STATUSES), st.text(max_size=16))


@dataclass(frozen=True)
class Rules:
    first_status: Callable[[bool, bool], str]
    can_cancel: Callable[[str], bool]
    can_approve: Callable[[str], bool]
    can_reject: Callable[[str], bool]


REAL_RULES = Rules(
    registration.first_status,
    registration.can_cancel,
    registration.can_approve,
    registration.can_reject,
)


def first_status_violations(rules: Rules, case: tuple[bool, bool]) -> list[str]:
    """API.md: a category under review takes applications (``pending_review``), whatever
    the places; otherwise a party is ``confirmed`` if it fits, else ``waitlisted``. A new
    registration can always be cancelled."""
    review, fits = case
    got = rules.first_status(review, fits)
    expected = "pending_review" if review else "confirmed" if fits else "waitlisted"
    out = [] if got == expected else [f"first_status({review}, {fits}) is {got!r}"]
    if not rules.can_cancel(got):
        out.append(f"a new registration ({got}) cannot be cancelled")
    return out


def guard_violations(rules: Rules, status: str) -> list[str]:
    """What may happen to a registration in ``status``: only an application under review
    is approved (confirmed and waiting ones are approved already); whatever can be
    approved can also be turned down; whatever an organizer can reject is still active,
    so its registrant can cancel it; an ended registration (rejected, cancelled) or an
    unknown status allows nothing."""
    c, a, r = rules.can_cancel(status), rules.can_approve(status), rules.can_reject(status)
    out = []
    if a != (status == "pending_review"):
        out.append(f"can_approve({status!r}) is {a}")
    if a and not r:
        out.append(f"{status!r} can be approved but not rejected")
    if r and not c:
        out.append(f"{status!r} can be rejected but not cancelled")
    if status not in STATUSES or status in ENDED:
        if c or a or r:
            out.append(f"{status!r} allows cancel={c} approve={a} reject={r}")
    elif status in ("confirmed", "waitlisted", "pending_review") and not c:
        out.append(f"an active registration ({status}) cannot be cancelled")
    return out


Action = tuple[str, bool]  # (cancel | reject | approve, whether the party fits then)
lifecycles = st.tuples(
    st.booleans(),
    st.booleans(),
    st.lists(st.tuples(st.sampled_from(["cancel", "reject", "approve"]), st.booleans())),
)


def lifecycle_violations(rules: Rules, case: tuple[bool, bool, list[Action]]) -> list[str]:
    """Along any path the guards allow, from any first status: a registration is approved
    at most once, and once ended it stays ended."""
    review, fits, actions = case
    status = rules.first_status(review, fits)
    approvals = 0
    out = []
    for action, fits_now in actions:
        if action == "cancel" and rules.can_cancel(status):
            new = "cancelled"
        elif action == "reject" and rules.can_reject(status):
            new = "rejected"
        elif action == "approve" and rules.can_approve(status):
            approvals += 1
            new = "confirmed" if fits_now else "waitlisted"  # a place, or the queue
        else:
            continue
        if status in ENDED:
            out.append(f"{action} allowed after {status}")
        status = new
    if approvals > 1:
        out.append(f"approved {approvals} times")
    return out


@PROPERTY
@given(st.booleans(), st.booleans())
def test_first_status_follows_review_then_places(review: bool, fits: bool) -> None:
    assert first_status_violations(REAL_RULES, (review, fits)) == []


@PROPERTY
@given(statuses)
def test_cancel_approve_and_reject_are_allowed_consistently(status: str) -> None:
    assert guard_violations(REAL_RULES, status) == []


@PROPERTY
@given(lifecycles)
def test_no_path_approves_twice_or_leaves_an_ended_status(
    case: tuple[bool, bool, list[Action]],
) -> None:
    assert lifecycle_violations(REAL_RULES, case) == []


WRONG_RULES: dict[str, tuple[Rules, Callable[[Rules, Any], list[str]], Any]] = {
    # cancelling twice would free the places twice
    "cancel_again": (
        replace(REAL_RULES, can_cancel=lambda s: s != "rejected"),
        guard_violations,
        statuses,
    ),
    "approve_a_waiting_party": (
        replace(REAL_RULES, can_approve=lambda s: s in ("pending_review", "waitlisted")),
        lifecycle_violations,
        lifecycles,
    ),
    "reject_a_cancelled_one": (
        replace(REAL_RULES, can_reject=lambda s: s != "rejected"),
        lifecycle_violations,
        lifecycles,
    ),
    "review_skipped_when_it_fits": (
        replace(
            REAL_RULES,
            first_status=lambda review, fits: (
                "confirmed" if fits else registration.first_status(review, fits)
            ),
        ),
        first_status_violations,
        st.tuples(st.booleans(), st.booleans()),
    ),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_RULES))
def test_control_wrong_status_rules_are_caught(wrong: str) -> None:
    rules, checker, cases = WRONG_RULES[wrong]
    counterexample(cases, lambda case: checker(rules, case))


# == checkin: what a scan of a genuine ticket does ========================================
Decide = Callable[..., checkin.Decision]
RESULTS = {"admitted", "exited", "already_admitted", "rejected"}
SCAN_REASONS = {
    "invalid_signature",
    "unknown_ticket",
    "cancelled",
    "wrong_event",
    "not_admitted_yet",
    "device_revoked",
}
# A presence exists once a ticket was admitted, so it counts at least one entry.
presences = st.one_of(
    st.none(), st.builds(checkin.Presence, inside=st.booleans(), entries=st.integers(1, 5))
)
ScanCase = tuple[checkin.Direction, checkin.Presence | None, bool, bool]
DIRECTIONS: list[checkin.Direction] = ["in", "out"]
scans = st.tuples(st.sampled_from(DIRECTIONS), presences, st.booleans(), st.booleans())


def scan_violations(decide: Decide, case: ScanCase) -> list[str]:
    """API.md: results and reasons are closed sets, a reason exactly when rejected;
    checks run signature, event, revoked (cancelled), then state; a first entry is
    admitted, an entry while inside is already_admitted, and after an exit the ticket is
    admitted again only where the category allows re-entry; an exit only from inside,
    else rejected as not_admitted_yet."""
    direction, presence, revoked, reentry = case
    d = decide(direction, presence, revoked=revoked, reentry=reentry)
    out = []
    if d.result not in RESULTS:
        out.append(f"result {d.result!r}")
    if (d.reason is not None) != (d.result == "rejected") or (
        d.reason is not None and d.reason not in SCAN_REASONS
    ):
        out.append(f"{d.result} with reason {d.reason!r}")
    inside = presence is not None and presence.inside
    if revoked:
        expected: tuple[str, str | None] = ("rejected", "cancelled")
    elif direction == "out":
        expected = ("exited", None) if inside else ("rejected", "not_admitted_yet")
    elif presence is None or (not inside and reentry):
        expected = ("admitted", None)
    else:
        expected = ("already_admitted", None)
    if (d.result, d.reason) != expected:
        out.append(f"{case}: {d.result}/{d.reason}, expected {expected[0]}/{expected[1]}")
    return out


def _enter(presence: checkin.Presence | None) -> checkin.Presence:
    return checkin.Presence(inside=True, entries=(presence.entries if presence else 0) + 1)


# (re-entry allowed, the scans' directions, the scan from which the ticket is cancelled)
GateDay = tuple[bool, list[checkin.Direction], int | None]
gate_days = st.tuples(
    st.booleans(),
    st.lists(st.sampled_from(DIRECTIONS), max_size=25),
    st.one_of(st.none(), st.integers(0, 25)),
)


def gate_day_violations(decide: Decide, case: GateDay) -> list[str]:
    """One ticket through a day of scans, the presence following each answer (admitted:
    inside, one entry more; exited: outside): admitted at most once without re-entry,
    never twice without an exit between, out only after in, nothing after cancelling."""
    reentry, directions, cancelled_from = case
    presence: checkin.Presence | None = None
    admitted = 0
    out = []
    for i, direction in enumerate(directions):
        revoked = cancelled_from is not None and i >= cancelled_from
        d = decide(direction, presence, revoked=revoked, reentry=reentry)
        if revoked and d.result in ("admitted", "exited"):
            out.append(f"scan {i}: {d.result} after the ticket was cancelled")
        if d.result == "admitted":
            if presence is not None and presence.inside:
                out.append(f"scan {i}: admitted while inside")
            admitted += 1
            presence = _enter(presence)
        elif d.result == "exited":
            if presence is None or not presence.inside:
                out.append(f"scan {i}: exited without being inside")
            presence = checkin.Presence(inside=False, entries=presence.entries if presence else 0)
    if not reentry and admitted > 1:
        out.append(f"admitted {admitted} times without re-entry")
    return out


@PROPERTY
@given(scans)
def test_each_scan_is_answered_as_documented(case: ScanCase) -> None:
    assert scan_violations(checkin.decide, case) == []


@PROPERTY
@given(gate_days)
def test_a_ticket_is_admitted_once_and_exits_only_after_admission(
    case: GateDay,
) -> None:
    assert gate_day_violations(checkin.decide, case) == []


def _state_before_revocation(
    direction: checkin.Direction,
    presence: checkin.Presence | None,
    *,
    revoked: bool,
    reentry: bool,
) -> checkin.Decision:
    if presence is not None and presence.inside and direction == "in":
        return checkin.Decision("already_admitted")
    return checkin.decide(direction, presence, revoked=revoked, reentry=reentry)


def _reentry_while_inside(
    direction: checkin.Direction,
    presence: checkin.Presence | None,
    *,
    revoked: bool,
    reentry: bool,
) -> checkin.Decision:
    if direction == "in" and reentry and not revoked:
        return checkin.Decision("admitted")
    return checkin.decide(direction, presence, revoked=revoked, reentry=reentry)


def _exit_without_entry(
    direction: checkin.Direction,
    presence: checkin.Presence | None,
    *,
    revoked: bool,
    reentry: bool,
) -> checkin.Decision:
    if direction == "out" and not revoked:
        return checkin.Decision("exited")
    return checkin.decide(direction, presence, revoked=revoked, reentry=reentry)


def _admitted_after_cancelling(
    direction: checkin.Direction,
    presence: checkin.Presence | None,
    *,
    revoked: bool,
    reentry: bool,
) -> checkin.Decision:
    return checkin.decide(direction, presence, revoked=False, reentry=reentry)


WRONG_GATES: dict[str, tuple[Decide, Callable[[Decide, Any], list[str]], Any]] = {
    "state_checked_before_revocation": (_state_before_revocation, scan_violations, scans),
    "reentry_while_inside": (_reentry_while_inside, gate_day_violations, gate_days),
    "exit_without_entry": (_exit_without_entry, gate_day_violations, gate_days),
    "admitted_after_cancelling": (_admitted_after_cancelling, gate_day_violations, gate_days),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_GATES))
def test_control_a_wrong_gate_is_caught(wrong: str) -> None:
    decide, checker, cases = WRONG_GATES[wrong]
    counterexample(cases, lambda case: checker(decide, case))


# == checkin: a device's clock ============================================================
FIVE_MINUTES = timedelta(minutes=5)
ClockCase = tuple[datetime, timedelta, timezone]
clock_cases = st.tuples(
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.one_of(
        st.timedeltas(-timedelta(days=3650), timedelta(days=3650)),
        st.timedeltas(FIVE_MINUTES - timedelta(seconds=2), FIVE_MINUTES + timedelta(seconds=2)),
        st.sampled_from([FIVE_MINUTES, FIVE_MINUTES + timedelta(microseconds=1), timedelta(0)]),
    ),
    # the device may write its time in its own zone
    st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)


ClockError = Callable[[datetime, datetime], str | None]


def clock_violations(error: ClockError, case: ClockCase) -> list[str]:
    """scanned_at_error's docstring: more than five minutes in the future is refused
    (``in_future``); any time in the past is fine (an offline queue syncing later)."""
    received, ahead, zone = case
    scanned = (received + ahead).astimezone(zone)
    got = error(scanned, received)
    expected = "in_future" if ahead > FIVE_MINUTES else None
    return [] if got == expected else [f"scanned {ahead} ahead: {got!r}, expected {expected!r}"]


@PROPERTY
@given(clock_cases)
def test_only_a_scan_more_than_five_minutes_ahead_is_refused(case: ClockCase) -> None:
    assert clock_violations(checkin.scanned_at_error, case) == []


WRONG_CLOCKS: dict[str, ClockError] = {
    "refuses_old_offline_scans": lambda s, r: "in_future" if abs(s - r) > FIVE_MINUTES else None,
    "refuses_exactly_five_minutes": lambda s, r: "in_future" if s - r >= FIVE_MINUTES else None,
    "compares_wall_clock_ignoring_zones": lambda s, r: checkin.scanned_at_error(
        s.replace(tzinfo=UTC), r
    ),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_CLOCKS))
def test_control_a_wrong_clock_check_is_caught(wrong: str) -> None:
    counterexample(clock_cases, lambda case: clock_violations(WRONG_CLOCKS[wrong], case))


# == stamprally: a booth scan ==============================================================
# API.md's closed set of stamp and redemption reasons.
RALLY_REASONS = {
    "invalid_signature",
    "wrong_event",
    "cancelled",
    "not_checked_in",
    "rally_closed",
    "wrong_booth",
    "device_revoked",
}
stamp_facts = st.builds(
    rally.StampFacts, **{f.name: st.booleans() for f in fields(rally.StampFacts)}
)
# decide_stamp's docstring order: signature, event, device, rally open, booth, ticket
# cancelled, entrance check-in; then the stamp itself.
STAMP_CHECKS: list[tuple[str, Callable[[rally.StampFacts], bool]]] = [
    ("invalid_signature", lambda f: not f.signature_ok),
    ("wrong_event", lambda f: not f.same_event),
    ("device_revoked", lambda f: f.device_revoked),
    ("rally_closed", lambda f: not (f.rally_exists and f.rally_open)),
    ("wrong_booth", lambda f: not f.booth_active),
    ("cancelled", lambda f: f.ticket_revoked),
    ("not_checked_in", lambda f: f.requires_checkin and not f.checked_in),
]
DecideStamp = Callable[[rally.StampFacts], tuple[str, str | None]]


def stamp_violations(decide: DecideStamp, f: rally.StampFacts) -> list[str]:
    """The first failing check in the documented order names the rejection; a card that
    passes them all is stamped once: a second scan at the booth is already_stamped."""
    result, reason = decide(f)
    failing = [r for r, fails in STAMP_CHECKS if fails(f)]
    if failing:
        expected: tuple[str, str | None] = ("rejected", failing[0])
    else:
        expected = ("already_stamped", None) if f.already_stamped else ("stamped", None)
    out = [] if (result, reason) == expected else [f"{f}: {result}/{reason}, not {expected}"]
    if reason is not None and reason not in RALLY_REASONS:
        out.append(f"reason {reason!r} is not in the contract")
    return out


@PROPERTY
@given(stamp_facts)
def test_a_booth_scan_is_decided_in_the_documented_order(f: rally.StampFacts) -> None:
    assert stamp_violations(rally.decide_stamp, f) == []


def _cancelled_before_booth(f: rally.StampFacts) -> tuple[str, str | None]:
    if f.ticket_revoked and f.signature_ok and f.same_event:
        return "rejected", "cancelled"
    return rally.decide_stamp(f)


WRONG_STAMPS: dict[str, DecideStamp] = {
    "stamps_twice": lambda f: rally.decide_stamp(replace(f, already_stamped=False)),
    "ignores_checkin": lambda f: rally.decide_stamp(replace(f, requires_checkin=False)),
    "cancelled_checked_before_the_rally_and_booth": _cancelled_before_booth,
}


@pytest.mark.parametrize("wrong", sorted(WRONG_STAMPS))
def test_control_a_wrong_booth_is_caught(wrong: str) -> None:
    counterexample(stamp_facts, lambda f: stamp_violations(WRONG_STAMPS[wrong], f))


# == stamprally: the prize desk =============================================================
redeem_facts = st.builds(
    rally.RedeemFacts,
    signature_ok=st.booleans(),
    same_event=st.booleans(),
    device_revoked=st.booleans(),
    ticket_revoked=st.booleans(),
    completed=st.booleans(),
    redeemed=st.booleans(),
    stock_left=st.integers(-2, 5),
)
REDEEM_RESULTS = {"redeemed", "already_redeemed", "not_completed", "out_of_stock", "rejected"}
DecideRedeem = Callable[[rally.RedeemFacts], tuple[str, str | None]]


def redeem_violations(decide: DecideRedeem, f: rally.RedeemFacts) -> list[str]:
    """A prize goes only to a genuine ticket of this event, not cancelled, through a
    working desk (else rejected, naming one of the failing checks, an unverifiable token
    always as invalid_signature); only to a completed card, once per card, and only
    while stock lasts; and every card that meets all of that gets it."""
    result, reason = decide(f)
    guards = {
        "invalid_signature": not f.signature_ok,
        "wrong_event": not f.same_event,
        "device_revoked": f.device_revoked,
        "cancelled": f.ticket_revoked,
    }
    failing = {r for r, fails in guards.items() if fails}
    out = []
    if result not in REDEEM_RESULTS:
        out.append(f"result {result!r}")
    if (reason is not None) != (result == "rejected"):
        out.append(f"{result} with reason {reason!r}")
    if failing and (result != "rejected" or reason not in failing):
        out.append(f"{f}: {result}/{reason} although {sorted(failing)} failed")
    if not f.signature_ok and reason != "invalid_signature":
        out.append(f"{f}: an unverifiable token answered {result}/{reason}")
    if result == "redeemed" and (f.redeemed or not f.completed or f.stock_left <= 0):
        out.append(f"{f}: redeemed")
    meets_all = not failing and f.completed and not f.redeemed and f.stock_left > 0
    if meets_all and result != "redeemed":
        out.append(f"{f}: {result} although the card meets every condition")
    implied = {
        "already_redeemed": f.redeemed,
        "not_completed": not f.completed,
        "out_of_stock": f.stock_left <= 0,
    }
    if not implied.get(result, True):
        out.append(f"{f}: {result}")
    return out


@PROPERTY
@given(redeem_facts)
def test_a_prize_goes_once_to_a_completed_card_while_stock_lasts(f: rally.RedeemFacts) -> None:
    assert redeem_violations(rally.decide_redeem, f) == []


WRONG_REDEEMS: dict[str, DecideRedeem] = {
    "ignores_stock": lambda f: rally.decide_redeem(replace(f, stock_left=1)),
    "redeems_twice": lambda f: rally.decide_redeem(replace(f, redeemed=False)),
    "ignores_cancellation": lambda f: rally.decide_redeem(replace(f, ticket_revoked=False)),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_REDEEMS))
def test_control_a_wrong_prize_desk_is_caught(wrong: str) -> None:
    counterexample(redeem_facts, lambda f: redeem_violations(WRONG_REDEEMS[wrong], f))


# == stamprally: when a card is complete ===================================================
BOOTHS = list("abcdefgh")
CardCase = tuple[int, list[str], list[str], list[str]]
cards = st.tuples(
    st.integers(0, len(BOOTHS)),  # validate_rally: min_stamps never above the booths
    st.lists(st.sampled_from(BOOTHS), unique=True),  # required booths
    st.lists(st.sampled_from(BOOTHS), max_size=16),  # stamps, in any order, maybe repeated
    st.lists(st.sampled_from(BOOTHS), max_size=8),  # stamps collected later
)


@dataclass(frozen=True)
class Completion:
    is_complete: Callable[[int, Sequence[str], Sequence[str]], bool]
    missing_booths: Callable[[Sequence[str], Sequence[str]], list[str]]
    needed: Callable[[int, Sequence[str]], int]


REAL_COMPLETION = Completion(rally.is_complete, rally.missing_booths, rally.needed)


def completion_violations(c: Completion, case: CardCase) -> list[str]:
    """API.md: completed = every required booth stamped and at least min_stamps stamps
    in all. So completion does not depend on the order of the stamps or on a booth's
    stamp counted twice (a booth stamps a card once); more stamps never undo it; the
    missing booths are the required ones not stamped, in the rally's order; and
    ``needed`` (the "M" of "N of M") is the fewest stamps a complete card can have."""
    min_stamps, required, stamped, later = case
    out = []
    missing = c.missing_booths(required, stamped)
    if missing != [b for b in required if b not in set(stamped)]:
        out.append(f"missing_booths({required}, {stamped}) is {missing}")
    complete = c.is_complete(min_stamps, required, stamped)
    if complete != (not missing and len(set(stamped)) >= min_stamps):
        out.append(f"is_complete({min_stamps}, {required}, {stamped}) is {complete}")
    if c.is_complete(min_stamps, required, stamped[::-1] + stamped) != complete:
        out.append(f"{stamped}: completion changes with order or repeats")
    if complete and not c.is_complete(min_stamps, required, stamped + later):
        out.append(f"{stamped} complete, {stamped + later} not")
    n = c.needed(min_stamps, required)
    fewest = required + [b for b in BOOTHS if b not in required][: max(0, n - len(required))]
    if len(fewest) != n or not c.is_complete(min_stamps, required, fewest):
        out.append(f"needed is {n}, but {fewest} does not complete the card")
    if len(set(stamped)) < n and complete:
        out.append(f"needed is {n}, but {stamped} completes the card")
    return out


@PROPERTY
@given(cards)
def test_completion_is_every_required_booth_and_enough_stamps(case: CardCase) -> None:
    assert completion_violations(REAL_COMPLETION, case) == []


WRONG_COMPLETIONS: dict[str, Completion] = {
    "counts_repeated_stamps": replace(
        REAL_COMPLETION,
        is_complete=lambda m, r, s: not rally.missing_booths(r, s) and len(s) >= m,
    ),
    "needs_required_on_top_of_min": replace(REAL_COMPLETION, needed=lambda m, r: m + len(r)),
    "missing_in_alphabetical_order": replace(
        REAL_COMPLETION, missing_booths=lambda r, s: sorted(rally.missing_booths(r, s))
    ),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_COMPLETIONS))
def test_control_a_wrong_completion_rule_is_caught(wrong: str) -> None:
    counterexample(cards, lambda case: completion_violations(WRONG_COMPLETIONS[wrong], case))


# == stamprally: the booth's rotating code =================================================
MakeCode = Callable[[bytes, str, str, float], str]
CheckCode = Callable[[bytes, str, str, float], str]
CodeCase = tuple[bytes, str, str, float, float, str, str, bytes]
slugs = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}\Z")
booth_codes = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,39}\Z")
keys = st.binary(min_size=16, max_size=32)
code_cases = st.tuples(
    keys,
    slugs,
    booth_codes,
    # When the tablet shows the code, and how long after that it is scanned (before, if
    # negative): quarter seconds, which floats hold exactly, so no rounding near a bound.
    st.integers(1_500_000_000 * 4, 2_500_000_000 * 4).map(lambda q: q / 4),
    st.integers(-400 * 4, 400 * 4).map(lambda q: q / 4),
    slugs,  # another event
    booth_codes,  # another booth
    keys,  # another key
)


def _outcome(check: CheckCode, key: bytes, event: str, code: str, now: float) -> str:
    try:
        return "booth " + check(key, event, code, now)
    except rally.InvalidBoothCode as exc:
        return exc.reason


def code_violations(make: MakeCode, check: CheckCode, case: CodeCase) -> list[str]:
    """The docstrings: a code ``B1.<booth>.<step>.<mac>`` names its booth; a new one every
    30 s, each accepted for 2 min. So a code verifies for its own event, booth and key,
    for at least 90 s after it is shown (it was made at most 30 s before), and never 2
    min or more away from when it was shown; with another event, key, booth or window
    written in, it is invalid."""
    key, event, booth, shown, after, other_event, other_booth, other_key = case
    code = make(key, event, booth, shown)
    out = []
    if not code.startswith(f"B1.{booth}."):
        out.append(f"{code!r} does not name booth {booth!r}")
    got = _outcome(check, key, event, code, shown + after)
    if 0 <= after <= 90 and got != f"booth {booth}":
        out.append(f"{after:.1f} s after it was shown: {got}")
    if abs(after) >= 120 and got != "expired":
        out.append(f"{after:.1f} s away from when it was shown: {got}")
    prefix, step, mac = code.rsplit(".", 2)
    forged = [
        ("another event", key, other_event, code, other_event != event),
        ("another key", other_key, event, code, other_key != key),
        ("another booth", key, event, f"B1.{other_booth}.{step}.{mac}", other_booth != booth),
        ("another window", key, event, f"{prefix}.{int(step) + 1}.{mac}", True),
    ]
    for what, k, e, c, differs in forged:
        got = _outcome(check, k, e, c, shown)
        if differs and got != "invalid":
            out.append(f"with {what}: {got}")
    return out


@PROPERTY
@given(code_cases)
def test_a_booth_code_verifies_only_for_its_event_booth_and_window(case: CodeCase) -> None:
    assert code_violations(rally.booth_code, rally.check_booth_code, case) == []


def _accepts_expired(key: bytes, event: str, code: str, now: float) -> str:
    try:
        return rally.check_booth_code(key, event, code, now)
    except rally.InvalidBoothCode as exc:
        if exc.reason == "expired":
            return code.split(".")[1]
        raise


WRONG_CODES: dict[str, tuple[MakeCode, CheckCode]] = {
    "not_bound_to_the_event": (
        lambda key, event, booth, now: rally.booth_code(key, "any", booth, now),
        lambda key, event, code, now: rally.check_booth_code(key, "any", code, now),
    ),
    "never_expires": (rally.booth_code, _accepts_expired),
    "one_minute_windows": (
        rally.booth_code,
        lambda key, event, code, now: rally.check_booth_code(key, event, code, now - 60),
    ),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_CODES))
def test_control_a_wrong_booth_code_is_caught(wrong: str) -> None:
    make, check = WRONG_CODES[wrong]
    counterexample(code_cases, lambda case: code_violations(make, check, case))


# What an attendee's phone may send as a booth code (POST /api/stamprally/cards/{id}/stamps
# takes any text up to 200 characters): anything, and things shaped like a code.
code_texts = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda booth, step, mac: f"B1.{booth}.{step}.{mac}",
        st.text(max_size=8),
        st.integers(),
        st.text(max_size=24),
    ),
)


def garbage_violations(check: CheckCode, text: str) -> list[str]:
    """check_booth_code's docstring: the booth a genuine, current code names, else
    InvalidBoothCode; nothing else escapes it (the self-stamp handler catches only that)."""
    try:
        check(b"k" * 32, "fair-2027", text, 1.8e9)
    except rally.InvalidBoothCode:
        return []
    except Exception as exc:
        return [f"{text!r}: {type(exc).__name__}: {exc}"]
    return [f"{text!r} accepted"]


@PROPERTY
@given(code_texts)
def test_any_text_that_is_not_a_code_is_refused_as_invalid(text: str) -> None:
    assert garbage_violations(rally.check_booth_code, text) == []


def _splits_without_checking(key: bytes, event: str, code: str, now: float) -> str:
    _prefix, _booth, _step, _mac = code.split(".")  # ValueError unless in four parts
    return rally.check_booth_code(key, event, code, now)


def test_control_a_check_that_lets_an_exception_escape_is_caught() -> None:
    counterexample(code_texts, lambda text: garbage_violations(_splits_without_checking, text))
