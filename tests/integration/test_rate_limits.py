"""Rate limits with ``TOMONI_RATE_LIMIT`` on, as registration is configured to run
(``services/registration/app.py``, ``LIMITS``: per client address, token buckets of
``shared/ratelimit.py``), behind the city's proxy (``TOMONI_TRUST_PROXY``: the client is
the last ``X-Forwarded-For`` entry, so each test speaks from addresses of its own).

For each limit (registering, by the API and by the attendee form; logging in, by the API
and the console; pairing a device) one client sends until refused: the refusal is a
``429`` with ``Retry-After``, it comes no sooner than the configured burst allows, the
refused request stores nothing (even when it was the right password or a valid pairing
code), another client is still served, and after ``Retry-After`` seconds the client is
served again. The limiters' clock is frozen meanwhile (and moved on by hand), so what is
refused does not depend on this machine's speed. A forged ``X-Forwarded-For`` does not
get a client out of its bucket.

SMS cost the city money: with notify running against a local SMS gateway, one client
address, and one phone number asked from many addresses, must not be able to make the
city send more than a small number of SMS. ``SMS_PER_CLIENT`` and ``SMS_PER_RECIPIENT``
are this test's reading of "an attacker cannot make the city pay for thousands of SMS";
the product may choose lower bounds.

Controls: the limit check, run against a limiter switched off (the test-only
``enabled`` flag), reports the missing 429; the SMS count sees the one SMS a single
registration sends.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse, DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy

from services.notify.app import create_app as notify_app
from services.notify.settings import NotifySettings
from services.registration.app import create_app as registration_app
from services.registration.handlers import LIMITS
from services.registration.settings import RegistrationSettings
from shared import ratelimit
from shared.ratelimit import RateLimiter
from shared.runtime import RUNTIME
from shared.testing import wait_until
from tests.integration.mailfixtures import SmsGateway
from tests.integration.regfixtures import ADMIN, Category, make_event

REG = "/api/registration"
# What one client address may make the city send by SMS, and what one phone number may be
# sent because of anonymous requests, within a minute: generous for a family registering
# together, far below "thousands".
SMS_PER_CLIENT = 30
SMS_PER_RECIPIENT = 10

_addresses = itertools.count(1)


def new_address() -> str:
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def as_client(address: str, **headers: str) -> dict[str, str]:
    """What the city's proxy sends for a client at ``address`` (it appends the address it
    saw to whatever X-Forwarded-For the client sent)."""
    return {"X-Forwarded-For": address, **headers}


def phone_number() -> str:
    """A valid Japanese mobile number (090-[1-9]xxx-xxxx), random per call."""
    return f"090{secrets.choice('123456789')}{secrets.randbelow(10**7):07d}"


@dataclass
class Seen:
    status: int
    headers: CIMultiDictProxy[str]
    body: str


async def seen(resp: ClientResponse) -> Seen:
    try:
        return Seen(resp.status, resp.headers, await resp.text())
    finally:
        resp.close()


# -- the limit check, shared with its control -------------------------------------------
@dataclass
class Run:
    answers: list[Seen]

    @property
    def refused(self) -> Seen | None:
        return next((a for a in self.answers if a.status == 429), None)

    @property
    def served(self) -> int:
        return sum(1 for a in self.answers if a.status != 429)


async def until_refused(send: Callable[[int], Awaitable[Seen]], attempts: int) -> Run:
    """Send until the first 429 (or ``attempts`` requests)."""
    answers = []
    for i in range(attempts):
        answers.append(await send(i))
        if answers[-1].status == 429:
            break
    return Run(answers)


def limit_problems(run: Run, burst: int) -> list[str]:
    refused = run.refused
    if refused is None:
        statuses = sorted({a.status for a in run.answers})
        return [f"no 429 in {len(run.answers)} requests (answers {statuses})"]
    problems = []
    retry = refused.headers.get("Retry-After", "")
    if not retry.isdigit() or not 1 <= int(retry) <= 3600:
        problems.append(f"429 without a usable Retry-After (got {retry!r})")
    if run.served < burst:
        problems.append(f"refused after {run.served} requests, before the burst of {burst}")
    return problems


# -- the running services ---------------------------------------------------------------
@dataclass
class Stack:
    reg: TestClient
    direct: TestClient  # the same service, not behind a proxy (TOMONI_TRUST_PROXY off)
    db: asyncpg.Pool
    sms: SmsGateway
    admin: dict[str, str]

    def limiter(self, name: str) -> RateLimiter:
        limiter: RateLimiter = self.reg.server.app[LIMITS][name]
        return limiter

    async def count(self, sql: str, *args: Any) -> int:
        return int(await self.db.fetchval(sql, *args))


@pytest.fixture(scope="module")
async def sms() -> AsyncIterator[SmsGateway]:
    gateway = SmsGateway()
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture(scope="module")
async def stack(
    make_settings: Any,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    sms: SmsGateway,
) -> AsyncIterator[Stack]:
    data = tmp_path_factory.mktemp("limits")
    common = {
        "data_dir": data,
        "admin_email": ADMIN[0],
        "admin_password": ADMIN[1],
        "rate_limit": True,
        "sms_url": sms.url,
    }
    reg = TestClient(
        TestServer(
            registration_app(make_settings(RegistrationSettings, trust_proxy=True, **common))
        ),
        cookie_jar=DummyCookieJar(),
    )
    direct = TestClient(
        TestServer(
            registration_app(make_settings(RegistrationSettings, trust_proxy=False, **common))
        ),
        cookie_jar=DummyCookieJar(),
    )
    ntf = TestClient(
        TestServer(
            notify_app(
                make_settings(
                    NotifySettings,
                    sms_url=sms.url,
                    rate_limit=True,
                    notify_poll_seconds=0.1,
                    notify_reminder_poll_seconds=3600.0,
                    notify_sms_per_second=1000.0,
                    notify_channel_retry_base_seconds=0.2,
                    notify_channel_retry_cap_seconds=0.5,
                )
            )
        )
    )
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        for c in (reg, direct, ntf):
            await c.start_server()
        r = await reg.post(
            f"{REG}/auth/login",
            json={"email": ADMIN[0], "password": ADMIN[1]},
            headers=as_client(new_address()),
        )
        assert r.status == 200, await r.text()
        admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
        yield Stack(reg, direct, db, sms, admin)
    finally:
        await db.close()
        for c in (ntf, direct, reg):
            await c.close()


async def big_event(stack: Stack) -> str:
    return await make_event(
        stack.reg, Category(code="visitor", title={"ja": "来場者"}, capacity=10_000)
    )


def person(tag: str, **contact: str) -> dict[str, Any]:
    body: dict[str, Any] = {"category": "visitor", "name": f"Limit {tag}", "language": "ja"}
    return {**body, **(contact or {"email": f"{tag}@example.org"})}


# The limiters' clock, frozen while a test sends its burst: what is refused then does not
# depend on how fast this machine is (tokens would otherwise trickle back in between).
class FrozenClock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now

    def advance(self, retry_after: str) -> None:
        self.now += int(retry_after)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(ratelimit, "time", frozen)
    return frozen


def retry_after(answer: Seen | None) -> str:
    assert answer is not None and answer.status == 429, answer
    value = answer.headers.get("Retry-After", "")
    assert value.isdigit() and int(value) >= 1, value
    return value


# == registering ========================================================================
async def test_registering_is_limited_per_client_and_the_refused_one_stores_nothing(
    stack: Stack, clock: FrozenClock
) -> None:
    slug = await big_event(stack)
    burst = stack.limiter("register").burst
    me = new_address()
    emails: list[str] = []

    async def register(i: int) -> Seen:
        email = f"burst-{uuid.uuid4().hex[:10]}@example.org"
        emails.append(email)
        return await seen(
            await stack.reg.post(
                f"{REG}/events/{slug}/registrations",
                json=person(email.split("@")[0], email=email),
                headers=as_client(me, **{"Idempotency-Key": f"k-{email}"}),
            )
        )

    run = await until_refused(register, 2 * burst)
    assert not limit_problems(run, burst), limit_problems(run, burst)
    assert run.served == burst and {a.status for a in run.answers[:-1]} == {201}
    assert run.refused is not None
    assert run.refused.headers["Content-Type"].startswith("application/problem+json")
    refused_email = emails[-1]
    stored = await stack.count(
        "SELECT count(*) FROM registration.registrations WHERE event_slug = $1", slug
    )
    assert stored == burst
    assert not await stack.count(
        "SELECT count(*) FROM registration.registrations WHERE email = $1", refused_email
    )
    assert not await stack.count(
        "SELECT count(*) FROM registration.idempotency_keys WHERE key LIKE $1",
        f"%{refused_email}%",
    )
    # Another client is served meanwhile: the limit is per client, not global.
    other = await stack.reg.post(
        f"{REG}/events/{slug}/registrations",
        json=person(f"other-{uuid.uuid4().hex[:8]}"),
        headers=as_client(new_address()),
    )
    assert other.status == 201, await other.text()
    # Retry-After tells the truth: after that many seconds this client is served again.
    clock.advance(retry_after(run.refused))
    again = await register(0)
    assert again.status == 201, again.body[:300]


async def test_the_attendee_form_shares_the_registration_limit(
    stack: Stack, clock: FrozenClock
) -> None:
    """Requests count whatever they ask for: a client that used its bucket on the API
    (here on an event that does not exist) is refused on the form page too."""
    slug = await big_event(stack)
    me = new_address()
    burst = stack.limiter("register").burst

    async def nothing(i: int) -> Seen:
        return await seen(
            await stack.reg.post(
                f"{REG}/events/no-such-event/registrations",
                json=person("x"),
                headers=as_client(me),
            )
        )

    run = await until_refused(nothing, 2 * burst)
    assert not limit_problems(run, burst)
    email = f"form-{uuid.uuid4().hex[:10]}@example.org"
    form = {"name": "Form Person", "email": email, "language": "ja", "party_size": "1"}

    async def send_form() -> Seen:
        return await seen(
            await stack.reg.post(
                f"/events/{slug}/register/visitor?form={uuid.uuid4()}",
                data=form,
                headers=as_client(me),
                allow_redirects=False,
            )
        )

    page = await send_form()
    assert page.status == 429, (page.status, page.body[:300])
    wait = retry_after(page)
    assert not await stack.count(
        "SELECT count(*) FROM registration.registrations WHERE email = $1", email
    )
    clock.advance(wait)
    assert (await send_form()).status == 303  # to the new ticket page


# == logging in =========================================================================
async def sessions(stack: Stack) -> int:
    return await stack.count(
        "SELECT count(*) FROM registration.sessions s JOIN registration.organizers o"
        " ON o.id = s.organizer_id WHERE o.email = $1",
        ADMIN[0],
    )


async def guess_then_until_refused(
    burst: int, send: Callable[[int], Awaitable[Seen]]
) -> tuple[Run, set[int]]:
    """The burst's wrong passwords at once (each costs an argon2 verification; the clock
    is frozen, so sending them together changes nothing), then one at a time."""
    first = await asyncio.gather(*(send(i) for i in range(burst)))
    run = await until_refused(lambda i: send(burst + i), burst)
    return Run([*first, *run.answers]), {a.status for a in first}


async def test_api_login_is_limited_and_the_refused_right_password_gets_no_token(
    stack: Stack, clock: FrozenClock
) -> None:
    me = new_address()
    burst = stack.limiter("login").burst

    async def login(password: str) -> Seen:
        return await seen(
            await stack.reg.post(
                f"{REG}/auth/login",
                json={"email": ADMIN[0], "password": password},
                headers=as_client(me),
            )
        )

    run, first = await guess_then_until_refused(burst, lambda i: login(f"guess {i}"))
    assert not limit_problems(run, burst), limit_problems(run, burst)
    assert first == {401}
    before = await sessions(stack)
    right = await login(ADMIN[1])
    wait = retry_after(right)
    assert "token" not in right.body
    assert await sessions(stack) == before
    other = await stack.reg.post(
        f"{REG}/auth/login",
        json={"email": ADMIN[0], "password": ADMIN[1]},
        headers=as_client(new_address()),
    )
    assert other.status == 200
    clock.advance(wait)
    assert (await login(ADMIN[1])).status == 200


async def test_wrong_passwords_from_many_addresses_are_limited_per_account(
    stack: Stack, clock: FrozenClock
) -> None:
    """A guesser with many addresses (each within its own limit) is still stopped by the
    account's own count of wrong passwords; other accounts are untouched, and the right
    password works again once the wait is over."""
    email = f"{uuid.uuid4().hex[:10]}@city.example"
    made = await stack.reg.post(
        f"{REG}/organizers",
        json={"email": email, "password": "right password 123"},
        headers={**stack.admin, **as_client(new_address())},
    )
    assert made.status == 201, await made.text()
    burst = stack.limiter("login_account").burst

    async def login(password: str) -> Seen:
        return await seen(
            await stack.reg.post(
                f"{REG}/auth/login",
                json={"email": email, "password": password},
                headers=as_client(new_address()),
            )
        )

    wrong = await asyncio.gather(*(login(f"guess {i}") for i in range(burst)))
    assert {a.status for a in wrong} == {401}
    right = await login("right password 123")
    wait = retry_after(right)
    assert "token" not in right.body
    admin = await login_as_admin(stack)
    assert admin == 200
    clock.advance(wait)
    assert (await login("right password 123")).status == 200


async def login_as_admin(stack: Stack) -> int:
    r = await stack.reg.post(
        f"{REG}/auth/login",
        json={"email": ADMIN[0], "password": ADMIN[1]},
        headers=as_client(new_address()),
    )
    return r.status


async def test_console_login_is_limited_and_the_refused_right_password_gets_no_session(
    stack: Stack, clock: FrozenClock
) -> None:
    me = new_address()
    burst = stack.limiter("login").burst
    page = await stack.reg.get("/console/login", headers=as_client(me))
    token = page.cookies["tomoni_login_csrf"].value
    await page.read()

    async def post(password: str) -> Seen:
        return await seen(
            await stack.reg.post(
                "/console/login",
                data={"email": ADMIN[0], "password": password, "csrf": token},
                headers=as_client(me, Cookie=f"tomoni_login_csrf={token}"),
                allow_redirects=False,
            )
        )

    run, first = await guess_then_until_refused(burst, lambda i: post(f"guess {i}"))
    assert not limit_problems(run, burst), limit_problems(run, burst)
    assert first == {401}
    before = await sessions(stack)
    right = await post(ADMIN[1])
    wait = retry_after(right)
    assert "tomoni_session" not in " ".join(right.headers.getall("Set-Cookie", []))
    assert await sessions(stack) == before
    clock.advance(wait)
    assert (await post(ADMIN[1])).status == 303


# == pairing ============================================================================
async def new_pairing(stack: Stack, slug: str) -> dict[str, Any]:
    r = await stack.reg.post(
        f"{REG}/events/{slug}/devices",
        json={"role": "gate", "place": f"g{uuid.uuid4().hex[:6]}", "label": "limits"},
        headers={**stack.admin, **as_client(new_address())},
    )
    assert r.status == 201, await r.text()
    made: dict[str, Any] = await r.json()
    return made


async def paired(stack: Stack, device_id: str) -> bool:
    return bool(
        await stack.db.fetchval(
            "SELECT paired_at IS NOT NULL FROM registration.devices WHERE id = $1",
            uuid.UUID(device_id),
        )
    )


def guess_code(i: int) -> str:
    return f"ZZZZ{i:04d}".replace("0", "A").replace("1", "B")


async def test_pairing_is_limited_and_the_refused_valid_code_still_works_later(
    stack: Stack, clock: FrozenClock
) -> None:
    slug = await big_event(stack)
    made = await new_pairing(stack, slug)
    me = new_address()
    burst = stack.limiter("pair").burst

    async def pair(code: str, headers: dict[str, str]) -> Seen:
        return await seen(
            await stack.reg.post(
                f"{REG}/devices/pair", json={"pairing_code": code}, headers=headers
            )
        )

    run = await until_refused(lambda i: pair(guess_code(i), as_client(me)), 2 * burst)
    assert not limit_problems(run, burst), limit_problems(run, burst)
    assert {a.status for a in run.answers[:-1]} == {404}
    refused = await pair(made["pairing_code"], as_client(me))
    wait = retry_after(refused)
    assert "device_token" not in refused.body
    assert not await paired(stack, made["device_id"])
    # A forged X-Forwarded-For in front of the proxy's own entry changes nothing.
    forged = await pair(made["pairing_code"], {"X-Forwarded-For": f"192.0.2.77, {me}"})
    assert forged.status == 429
    assert not await paired(stack, made["device_id"])
    clock.advance(wait)
    later = await pair(made["pairing_code"], as_client(me))
    assert later.status == 200, later.body
    assert await paired(stack, made["device_id"])


async def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(
    stack: Stack, clock: FrozenClock
) -> None:
    """Reached directly (TOMONI_TRUST_PROXY off), a client that sends a new
    X-Forwarded-For with each request is still one client."""
    burst = stack.direct.server.app[LIMITS]["pair"].burst

    async def pair(i: int) -> Seen:
        return await seen(
            await stack.direct.post(
                f"{REG}/devices/pair",
                json={"pairing_code": guess_code(i)},
                headers={"X-Forwarded-For": new_address()},
            )
        )

    run = await until_refused(pair, 2 * burst)
    assert not limit_problems(run, burst), limit_problems(run, burst)


async def test_control_a_limiter_switched_off_is_reported(stack: Stack, clock: FrozenClock) -> None:
    """The same check against the running service with the pairing limiter replaced by a
    small one: switched off (the test-only ``enabled`` flag) the check reports the missing
    429; switched on, it passes. The real limiter is put back."""
    limits = stack.reg.server.app[LIMITS]
    real = limits["pair"]
    me = new_address()

    async def pair(i: int) -> Seen:
        return await seen(
            await stack.reg.post(
                f"{REG}/devices/pair",
                json={"pairing_code": guess_code(i)},
                headers=as_client(me),
            )
        )

    try:
        limits["pair"] = RateLimiter(rate_per_minute=1, burst=3, enabled=False)
        off = await until_refused(pair, 6)
        limits["pair"] = RateLimiter(rate_per_minute=1, burst=3, enabled=True)
        on = await until_refused(pair, 6)
        limits["pair"] = RateLimiter(rate_per_minute=1, burst=3, enabled=True)
        early = await until_refused(pair, 6)
    finally:
        limits["pair"] = real
    assert limit_problems(off, 3) == ["no 429 in 6 requests (answers [404])"]
    assert limit_problems(on, 3) == []
    assert limit_problems(early, 5) == ["refused after 3 requests, before the burst of 5"]


# == SMS ================================================================================
async def sms_to(stack: Stack, numbers: set[str]) -> int:
    e164 = {"+81" + n[1:] for n in numbers}
    return sum(1 for m in stack.sms.received if m.get("to") in e164)


async def settled(stack: Stack, slug: str, numbers: set[str]) -> int:
    """Wait until notify has taken in every registration fact of the event (its inbox
    holds each one registration published) and has nothing left to send; return how many
    SMS the gateway got for ``numbers``. Whatever a fix does (refuse the request, or
    skip the message), this point is reached."""

    async def done() -> bool:
        missing = await stack.count(
            "SELECT count(*) FROM registration.outbox o WHERE o.event_slug = $1"
            " AND o.event_type LIKE 'registration.%'"
            " AND NOT EXISTS (SELECT 1 FROM notify.inbox i WHERE i.event_id = o.id)",
            slug,
        )
        waiting = await stack.count(
            "SELECT count(*) FROM notify.notifications WHERE event = $1"
            " AND status IN ('queued', 'failed')",
            slug,
        )
        return missing == 0 and waiting == 0

    await wait_until(done, timeout=30, message="notify to take in and send every message")
    return await sms_to(stack, numbers)


async def test_control_one_sms_registration_sends_one_sms(stack: Stack) -> None:
    """The SMS count works: one phone-only registration → exactly one SMS at the gateway
    (otherwise the bounds below would hold for want of any SMS)."""
    slug = await big_event(stack)
    number = phone_number()
    r = await stack.reg.post(
        f"{REG}/events/{slug}/registrations",
        json=person("one-sms", phone=number),
        headers=as_client(new_address()),
    )
    assert r.status == 201, await r.text()
    await wait_until(lambda: sms_to(stack, {number}), timeout=30, message="the registration's SMS")
    assert await settled(stack, slug, {number}) == 1


async def test_one_client_cannot_make_the_city_send_many_sms(stack: Stack) -> None:
    """One address registers 40 phone-only people, each with another number (each gets an
    SMS ticket): at most ``SMS_PER_CLIENT`` may go out; the rest must be refused with 429
    and Retry-After, storing nothing (or never sent)."""
    slug = await big_event(stack)
    me = new_address()
    numbers: set[str] = set()
    refused: list[tuple[Seen, str]] = []
    for i in range(40):
        number = phone_number()
        numbers.add(number)
        r = await seen(
            await stack.reg.post(
                f"{REG}/events/{slug}/registrations",
                json=person(f"c{i}", phone=number),
                headers=as_client(me),
            )
        )
        assert r.status in (201, 429), (r.status, r.body[:300])
        if r.status == 429:
            refused.append((r, number))
    for r, number in refused:
        assert r.headers.get("Retry-After", "").isdigit()
        stored = await stack.count(
            "SELECT count(*) FROM registration.registrations WHERE phone = $1",
            "+81" + number[1:],
        )
        assert not stored, number
    sent = await settled(stack, slug, numbers)
    assert sent <= SMS_PER_CLIENT, (
        f"one client address made the city send {sent} SMS (one per number) with "
        f"{40 - len(refused)} accepted POST {REG}/events/{{slug}}/registrations "
        f"(phone only, no email); {len(refused)} were refused"
    )


async def test_one_phone_number_cannot_be_sent_many_sms_by_anonymous_requests(
    stack: Stack,
) -> None:
    """The same number registered and cancelled again and again, each time from another
    address (as many phones or a botnet would): each round sends a ticket and a
    cancellation. At most ``SMS_PER_RECIPIENT`` may reach that number."""
    slug = await big_event(stack)
    number = phone_number()
    accepted = cancelled = 0
    for i in range(12):
        r = await seen(
            await stack.reg.post(
                f"{REG}/events/{slug}/registrations",
                json=person(f"r{i}", phone=number),
                headers=as_client(new_address()),
            )
        )
        assert r.status in (201, 409, 429), (r.status, r.body[:300])
        if r.status != 201:
            continue
        accepted += 1
        body = json.loads(r.body)
        c = await seen(
            await stack.reg.post(
                f"{REG}/registrations/{body['id']}/cancel",
                headers=as_client(new_address(), **{"X-Registration-Secret": body["secret"]}),
            )
        )
        assert c.status in (200, 429), (c.status, c.body[:300])
        cancelled += c.status == 200
    sent = await settled(stack, slug, {number})
    assert sent <= SMS_PER_RECIPIENT, (
        f"{sent} SMS went to one number ({'+81' + number[1:]}) after {accepted} accepted"
        f" anonymous registrations and {cancelled} cancellations of it, each from another"
        " client address"
    )


def test_the_runtime_keeps_the_settings_the_limits_were_read_from(stack: Stack) -> None:
    """The limits above are the service's real ones: rate limiting on, behind the proxy."""
    settings = stack.reg.server.app[RUNTIME].settings
    assert settings.rate_limit and settings.trust_proxy
    assert all(limiter.enabled for limiter in stack.reg.server.app[LIMITS].values())
