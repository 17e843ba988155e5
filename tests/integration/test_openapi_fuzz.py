"""Schemathesis against every service's OpenAPI document: each operation of
``/api/<service>/openapi.json`` is fuzzed against the live server over HTTP, and every
answer must be no 5xx, a documented status, of the documented content type, with a body
that matches the documented schema.

The four services run in this process on one origin, as ``tomoni up`` composes them
(like tests/e2e/scanner_support/stack.py, with notify added), on an event loop of their
own in a background thread: Schemathesis' pytest integration is synchronous and sends its
requests with ``requests``, so the servers must keep serving while a test blocks. The
documents are built at import with the function the services serve them with
(``shared.openapi.document`` over each route table), because pytest makes one test per
operation at collection; ``test_the_fuzzed_documents_are_the_served_ones`` checks that
they are what ``/api/<service>/openapi.json`` answers.

Before fuzzing, real data is made over the API: two events (one the fuzzer may change,
one it only reads and registers for), registrations (confirmed and under review), a stamp
rally on each, and a gate, a booth and a prize desk paired as devices. Each generated case
then gets the credentials its operation needs: the organizer's bearer token (the admin's
login), a paired device of the right role, or the ``X-Registration-Secret`` of the
registration named in its path. Path parameters are drawn from that data or at random, so
both the found and the not-found paths run; scan bodies sometimes carry a genuine ticket,
a pairing sometimes a fresh code, a login sometimes the admin's password, and the changes
of an event, a rally or an announcement sometimes a valid body.

Generation is deterministic (Hypothesis' ``derandomize``) and bounded (``EXAMPLES``
generated cases per operation, positive and negative, besides Schemathesis' coverage
cases), so ``make test`` stays stable and short; the ``soak`` test runs ``SOAK_EXAMPLES``.

The product bugs this found (FOUND: a U+0000 or a date outside years 1–9999 reaching
PostgreSQL, a non-numeric ``limit``; all answered 500) are fixed; ``test_what_was_found``
sends each one's reproductions again, so none comes back.

The control (``test_control_*``) holds a tiny application built with the project's route
machinery (``shared.openapi``, ``shared.http``) to the very same checks: its handlers
answer 500, a body that breaks the declared schema, and an undeclared content type, and
Schemathesis reports each; the handler that keeps its contract passes.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import hypothesis
import pytest
import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field
from schemathesis.checks import CheckFunction
from schemathesis.core.failures import Failure, FailureGroup, ServerError
from schemathesis.openapi.checks import JsonSchemaError, UndefinedContentType

from services.checkin.app import DEFINITION as CHECKIN
from services.notify.app import DEFINITION as NOTIFY
from services.registration.app import DEFINITION as REGISTRATION
from services.stamprally.app import DEFINITION as STAMPRALLY
from shared.compose import compose
from shared.embedded import free_port
from shared.http import json_response, new_app, parse_body
from shared.openapi import Route, add_routes, document, openapi_route
from shared.runtime import ServiceDefinition, health_routes
from tests.e2e.scanner_support.stack import CHK, RALLY, REG, Stack
from tests.integration.fullstack import four_apps
from tests.integration.regfixtures import ADMIN, new_slug

T = TypeVar("T")

DEFINITIONS = (REGISTRATION, CHECKIN, STAMPRALLY, NOTIFY)
NTF = "/api/notify"
EXAMPLES = 15  # generated cases per operation in `make test`, after the coverage cases
SOAK_EXAMPLES = 300  # in `make soak`
BOOTHS = {"vn": ("ベトナム", "Vietnam"), "np": ("ネパール", "Nepal")}
PRIZES = {"bag": ("エコバッグ", "Eco bag")}
SETUP_TIMEOUT = 120.0

# What every response is held to. The documents give each operation a `default` answer
# (a problem+json), so status_code_conformance accepts any status and the others make it
# meaningful: a 4xx must then be a problem (content_type_conformance) with a problem's
# fields (response_schema_conformance).
CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]

# The bodies with the most fields (an event, a rally) get some 190 coverage cases each
# (every boundary and wrong type of every field): in `make test` they get only their
# generated cases, and every coverage case in the soak run.
BIG_BODIES = {
    "include-name": [
        f"POST {REG}/events",
        f"PUT {REG}/events/{{slug}}",
        f"POST {RALLY}/events/{{slug}}/rally",
        f"PUT {RALLY}/events/{{slug}}/rally",
    ],
    "phases": {"coverage": {"enabled": False}},
}


def fuzz_config(examples: int, *, soak: bool = False) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "operations": [] if soak else [BIG_BODIES],
            "seed": 20240917,
            "generation": {
                "max-examples": examples,
                "deterministic": True,  # Hypothesis' derandomize: the same cases every run
                "database": "none",  # nothing replayed from (or written to) .hypothesis/
                # Credentials are set per case (Live.credentials), never generated.
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "request-timeout": 20,
            # The live board (Server-Sent Events) never ends: its first snapshot is read.
            "max-stream-events": 1,
            "warnings": False,
        }
    )


def conforms(
    case: schemathesis.Case,
    *,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> None:
    """Send ``case`` and hold the answer to CHECKS: raises Schemathesis' FailureGroup."""
    case.call_and_validate(
        base_url=base_url, session=session, headers=headers, params=params, checks=CHECKS
    )


# -- servers on a loop of their own ----------------------------------------------------------
class LoopThread:
    """An event loop in a background thread: synchronous code (Schemathesis' requests)
    talks to the servers on it, which keep serving meanwhile."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzzed-servers")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = SETUP_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @contextmanager
    def entered(self, cm: AbstractAsyncContextManager[T]) -> Iterator[T]:
        """An async context manager entered and left on this loop."""
        value = self.run(cm.__aenter__())
        try:
            yield value
        finally:
            self.run(cm.__aexit__(None, None, None))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive session for all requests: the machine is slow."""
    with requests.Session() as session:
        yield session


# -- the four services on one origin, with data -----------------------------------------------
@asynccontextmanager
async def running_services(
    make_settings: Any, database_url: str, tmp: Path
) -> AsyncIterator[Stack]:
    """Registration, checkin, stamprally and notify composed on one port, rate limits
    off; what tests/e2e/scanner_support/stack.py's running_stack makes, plus notify."""
    port = free_port()
    # No SMTP server or SMS gateway: messages are recorded, not sent.
    apps = list(
        four_apps(
            make_settings,
            data_dir=tmp,
            port=port,
            admin=ADMIN,
            registration={"db_pool_max": 10},
            rate_limit=False,
        ).values()
    )
    root = compose(apps, max_body_bytes=1024 * 1024)
    client = TestClient(TestServer(root, host="127.0.0.1", port=port))
    await client.start_server()
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        r = await client.post(f"{REG}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert r.status == 200, await r.text()
        admin = {"Authorization": f"Bearer {(await r.json())['token']}"}
        stack = Stack(client=client, db=db, admin=admin, hits=[], stamprally=True)
        await stack.keys_published()
        yield stack
    finally:
        await db.close()
        await client.close()


@dataclass(frozen=True)
class Person:
    id: str
    secret: str
    ticket_id: str | None
    qr_text: str | None


@dataclass(frozen=True)
class Seed:
    slug: str  # read and registered for by the fuzzer
    scratch: str  # changed by the fuzzer: PUT event, rally, notify settings, announcements
    reader: Person  # read, changed, its card and its notifications
    to_cancel: Person
    to_erase: Person
    to_approve: Person  # pending review
    to_reject: Person  # pending review
    device_tokens: dict[str, str]  # role → a paired device's token
    spare_device: str  # revoked by the fuzzer
    pairing_codes: tuple[str, ...]  # fresh, for POST /devices/pair

    @property
    def people(self) -> tuple[Person, ...]:
        return (self.reader, self.to_cancel, self.to_erase, self.to_approve, self.to_reject)


def event_body(slug: str) -> dict[str, Any]:
    """A valid event, open for registration, with a visitor category and one under review
    (speakers)."""
    start = datetime.now(UTC) + timedelta(days=7)
    return {
        "slug": slug,
        "kind": "fair",
        "title": {"ja": "多文化フェスタ", "en": "Multicultural Fair"},
        "venue": {"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=6)).isoformat(),
        "categories": [
            {
                "code": "visitor",
                "title": {"ja": "来場者", "en": "Visitor"},
                "capacity": 200,
                "max_party_size": 5,
            },
            {
                "code": "speaker",
                "title": {"ja": "発表者", "en": "Speaker"},
                "capacity": 10,
                "review": True,
            },
        ],
    }


def rally_body() -> dict[str, Any]:
    return {
        "title": {"ja": "スタンプラリー", "en": "Stamp rally"},
        "min_stamps": 2,
        "booths": [
            {"code": code, "name": {"ja": ja, "en": en}, "kind": "country"}
            for code, (ja, en) in BOOTHS.items()
        ],
        "prizes": [
            {"code": code, "name": {"ja": ja, "en": en}, "stock": 5}
            for code, (ja, en) in PRIZES.items()
        ],
    }


ANNOUNCEMENT = {
    "subject": {"ja": "会場の変更", "en": "Change of venue"},
    "body": {"ja": "会場が2階に変わりました。", "en": "The venue has moved to the 2nd floor."},
}


async def make_event(stack: Stack, prefix: str) -> str:
    """An event (event_body) known to the other three services, with a stamp rally."""
    slug = new_slug(prefix)
    await stack.post(f"{REG}/events", event_body(slug), headers=stack.admin)
    for schema in ("checkin", "stamprally", "notify"):
        await stack.known(f"SELECT true FROM {schema}.events WHERE slug = $1", slug)
    await stack.post(f"{RALLY}/events/{slug}/rally", rally_body(), headers=stack.admin)
    return slug


async def register(stack: Stack, slug: str, name: str, category: str = "visitor") -> Person:
    made = await stack.post(
        f"{REG}/events/{slug}/registrations",
        {
            "category": category,
            "name": name,
            "email": f"{uuid.uuid4().hex[:12]}@example.org",
            "language": "vi",
            "party_size": 1,
        },
    )
    ticket = made.get("ticket") or {}
    return Person(made["id"], made["secret"], ticket.get("id"), ticket.get("qr_text"))


async def paired(stack: Stack, slug: str, role: str, place: str) -> tuple[str, str]:
    """(device id, device token) of a device paired over the API, once the service it
    scans for knows it."""
    made = await stack.pairing(slug, place, role)
    answer = await stack.post(f"{REG}/devices/pair", {"pairing_code": made["pairing_code"]})
    if role == "gate":
        await stack.device_known(made["device_id"])
    else:
        await stack.rally_knows(device_id=made["device_id"])
    return made["device_id"], answer["device_token"]


async def make_seed(stack: Stack) -> Seed:
    slug = await make_event(stack, "fuzz")
    scratch = await make_event(stack, "fuzz-scratch")
    reader = await register(stack, slug, "Tran Van An")
    people = [
        reader,
        await register(stack, slug, "Nguyen Thi Binh"),
        await register(stack, slug, "Le Van Cuong"),
        await register(stack, slug, "Pham Thi Dung", "speaker"),
        await register(stack, slug, "Hoang Van Em", "speaker"),
    ]
    for person in people:
        await stack.known(
            "SELECT true FROM notify.recipients WHERE registration_id = $1", uuid.UUID(person.id)
        )
    for person in people:
        if person.ticket_id is not None:
            await stack.known(
                "SELECT true FROM checkin.tickets WHERE id = $1 AND party_size IS NOT NULL",
                uuid.UUID(person.ticket_id),
            )
            await stack.rally_knows(ticket_id=person.ticket_id)
    tokens = {}
    for role, place in (("gate", "north"), ("booth", "vn"), ("prize_desk", "goal")):
        _, tokens[role] = await paired(stack, slug, role, place)
    spare = await stack.pairing(slug, "south", "gate")
    codes = [(await stack.pairing(slug, f"east-{i}", "gate"))["pairing_code"] for i in range(3)]
    return Seed(
        slug=slug,
        scratch=scratch,
        reader=reader,
        to_cancel=people[1],
        to_erase=people[2],
        to_approve=people[3],
        to_reject=people[4],
        device_tokens=tokens,
        spare_device=spare["device_id"],
        pairing_codes=tuple(codes),
    )


# Which device role each device operation is for.
DEVICE_ROLES = {
    f"{CHK}/scans": "gate",
    f"{CHK}/scans/batch": "gate",
    f"{CHK}/device": "gate",
    f"{CHK}/revoked": "gate",
    f"{RALLY}/stamps": "booth",
    f"{RALLY}/booth-code": "booth",
    f"{RALLY}/redemptions": "prize_desk",
}
# Operations on an event that change it: they get the scratch event.
CHANGES_EVENT = {
    f"PUT {REG}/events/{{slug}}",
    f"POST {REG}/events/{{slug}}/announcements",
    f"POST {RALLY}/events/{{slug}}/rally",
    f"PUT {RALLY}/events/{{slug}}/rally",
    f"PUT {NTF}/events/{{slug}}/settings",
}


@dataclass(frozen=True)
class Live:
    base: str
    admin: dict[str, str]
    seed: Seed

    def seeded_path(self, label: str) -> dict[str, str] | None:
        """Path parameters naming the seeded data, for the operation ``label``."""
        s = self.seed
        path = label.split(" ", 1)[1]
        if "{slug}" in path:
            return {"slug": s.scratch if label in CHANGES_EVENT else s.slug}
        if path.startswith(f"{REG}/registrations/{{id}}"):
            verb = path.rsplit("/", 1)[-1]
            targets = {
                "cancel": s.to_cancel,
                "erase": s.to_erase,
                "approve": s.to_approve,
                "reject": s.to_reject,
            }
            return {"id": targets.get(verb, s.reader).id}
        if path == f"{REG}/devices/{{id}}/revoke":
            return {"id": s.spare_device}
        if "{ticket_id}" in path:
            assert s.reader.ticket_id is not None
            return {"ticket_id": s.reader.ticket_id}
        return None

    def genuine_body(self, label: str) -> Callable[[Any, int], Any] | None:
        """For the operations whose interesting answers need a real secret in the body
        (a ticket, a pairing code, the password) or a body valid beyond what its schema
        says, a function putting the i-th such value in a generated body."""
        s = self.seed
        qrs = [p.qr_text for p in s.people if p.qr_text]

        def put(key: str, values: list[str]) -> Callable[[Any, int], Any]:
            def swap(body: Any, i: int) -> Any:
                if isinstance(body, dict) and key in body:
                    return {**body, key: values[i % len(values)]}
                return body

            return swap

        def batch(body: Any, i: int) -> Any:
            if isinstance(body, dict) and isinstance(body.get("scans"), list):
                return {
                    **body,
                    "scans": [put("qr_text", qrs)(x, i + j) for j, x in enumerate(body["scans"])],
                }
            return body

        def login(body: Any, i: int) -> Any:
            if isinstance(body, dict) and "email" in body and "password" in body:
                return {**body, "email": ADMIN[0], "password": ADMIN[1]}
            return body

        def whole(make: Callable[[], Any]) -> Callable[[Any, int], Any]:
            return lambda body, i: make()

        return {
            # A valid body: the 2xx answer and its schema are reached at all.
            f"PUT {REG}/events/{{slug}}": whole(lambda: event_body(s.scratch)),
            f"POST {REG}/events/{{slug}}/announcements": whole(lambda: ANNOUNCEMENT),
            f"PUT {RALLY}/events/{{slug}}/rally": whole(rally_body),
            f"POST {CHK}/scans": put("qr_text", qrs),
            f"POST {CHK}/scans/batch": batch,
            f"POST {RALLY}/stamps": put("qr_text", qrs),
            f"POST {RALLY}/redemptions": put("qr_text", qrs),
            f"POST {REG}/devices/pair": put("pairing_code", list(s.pairing_codes)),
            f"POST {REG}/auth/login": login,
        }.get(label)

    def credentials(self, case: schemathesis.Case) -> dict[str, str]:
        """What the case's operation asks for: a device of its role, the secret of the
        registration in its path, or the organizer's token."""
        op = case.operation
        schemes = {name for option in op.definition.raw.get("security", []) for name in option}
        if op.path in DEVICE_ROLES:
            return {"Authorization": f"Bearer {self.seed.device_tokens[DEVICE_ROLES[op.path]]}"}
        # The stamp card's routes read the header too (not declared in the document).
        if "registrationSecret" in schemes or op.path.startswith(f"{RALLY}/cards/"):
            named = set((case.path_parameters or {}).values())
            owner = next(
                (p for p in self.seed.people if {p.id, p.ticket_id} & named), self.seed.reader
            )
            return {"X-Registration-Secret": owner.secret}
        if "organizer" in schemes:
            return dict(self.admin)
        return {}

    def params(self, case: schemathesis.Case) -> dict[str, str] | None:
        # The one query parameter the route needs is not in the document: without it every
        # request is a 422 and the list is never read.
        if case.operation.label == f"GET {NTF}/notifications":
            return {"registration": self.seed.reader.id}
        return None


# -- what the fuzzing found --------------------------------------------------------------
def sent_strings(value: Any) -> Iterator[str]:
    """Every string in a generated part of a request (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from sent_strings(k)
            yield from sent_strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from sent_strings(v)


def sent(case: schemathesis.Case) -> Iterator[str]:
    for part in (case.path_parameters, case.query, case.body):
        yield from sent_strings(part)


def beyond_utc(text: str) -> bool:
    """A date-time that has no UTC value in years 1…9999 (``0001-01-01T00:00:00+14:00``)."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment.astimezone(UTC)
    except ValueError:
        return False
    except OverflowError:
        return True
    return False


Body = Callable[["Seed"], Any]


@dataclass(frozen=True)
class Repro:
    """One request that showed a failure found here, sent to the seeded services: ``{slug}``
    and ``{scratch}`` in the path name the seeded events, ``body`` is made from the seed,
    ``who`` is "admin" or a device role."""

    method: str
    path: str
    body: Body | None = None
    who: str | None = None
    params: dict[str, str] | None = None


@dataclass(frozen=True)
class Known:
    """A product bug this test found (now fixed): what it was, which fuzzed failures it
    explained, and requests that reproduced it, sent again by test_what_was_found."""

    bug: str
    explains: Callable[[schemathesis.Case, Failure], bool]
    reproductions: tuple[Repro, ...]


NUL = "a\x00b"
BEFORE_YEAR_1 = "0001-01-01T00:00:00+14:00"  # 31 December of year 0 in UTC
AFTER_YEAR_9999 = "9999-12-31T23:59:59-14:00"  # 1 January 10000 in UTC


def event(**changes: Any) -> Body:
    """A new valid event with ``changes``."""
    return lambda seed: {**event_body(new_slug("known")), **changes}


def category(**changes: Any) -> Body:
    """A new valid event whose first category has ``changes``."""

    def body(seed: Seed) -> dict[str, Any]:
        made = event_body(new_slug("known"))
        made["categories"][0].update(changes)
        return made

    return body


def scratch_event(**changes: Any) -> Body:
    return lambda seed: {**event_body(seed.scratch), **changes}


def rally(**changes: Any) -> Body:
    return lambda seed: {**rally_body(), **changes}


def scan(**fields: Any) -> Body:
    """A scan of the reader's genuine ticket."""
    return lambda seed: {"qr_text": seed.reader.qr_text, **fields}


def person(**changes: Any) -> Body:
    """A new person's registration for the visitor category, with ``changes``."""
    return lambda seed: {
        "category": "visitor",
        "name": "Tran Van Binh",
        "email": f"{uuid.uuid4().hex[:12]}@example.org",
        "language": "vi",
        **changes,
    }


def fixed(value: Any) -> Body:
    return lambda seed: value


FOUND: tuple[Known, ...] = (
    Known(
        "A U+0000 in a string that reaches PostgreSQL answers 500: text columns refuse it"
        " (asyncpg CharacterNotInRepertoireError), jsonb too (UntranslatableCharacterError)."
        " Expected: 422 for a body field or query value, 404 for a path segment.",
        lambda case, failure: (
            isinstance(failure, ServerError) and any("\x00" in text for text in sent(case))
        ),
        (
            Repro("POST", f"{REG}/events", event(slug=NUL), "admin"),
            Repro("POST", f"{REG}/events", event(title={"ja": NUL}), "admin"),
            Repro("POST", f"{REG}/events", event(venue_map_url=NUL), "admin"),
            Repro("POST", f"{REG}/events", event(timezone=NUL), "admin"),
            Repro("PUT", f"{REG}/events/{{scratch}}", scratch_event(title={"ja": NUL}), "admin"),
            Repro("GET", f"{REG}/events/a%00b"),
            Repro("PUT", f"{REG}/events/a%00b", event(slug=NUL), "admin"),
            Repro("GET", f"{REG}/events/a%00b/live", None, "admin"),
            Repro("GET", f"{REG}/events/a%00b/registrations", None, "admin"),
            Repro("GET", f"{REG}/events/a%00b/devices", None, "admin"),
            Repro(
                "POST",
                f"{REG}/events/a%00b/devices",
                fixed({"role": "gate", "place": "x"}),
                "admin",
            ),
            Repro("POST", f"{REG}/events/a%00b/announcements", fixed(ANNOUNCEMENT), "admin"),
            Repro(
                "POST",
                f"{REG}/events/a%00b/registrations",
                fixed({"category": "visitor", "name": "An", "language": "ja"}),
            ),
            Repro(
                "POST",
                f"{REG}/events/{{slug}}/registrations",
                person(name=NUL),
            ),
            Repro(
                "POST",
                f"{REG}/events/{{slug}}/registrations",
                person(name_kana=NUL),
            ),
            Repro(
                "POST",
                f"{REG}/events/{{slug}}/devices",
                fixed({"role": "gate", "place": "x", "label": NUL}),
                "admin",
            ),
            Repro(
                "POST",
                f"{REG}/events/{{scratch}}/announcements",
                fixed({"subject": {"ja": NUL}, "body": {"ja": "b"}}),
                "admin",
            ),
            Repro(
                "POST",
                f"{REG}/organizers",
                fixed({"email": "o1@example.org", "password": "0123456789ab", "events": [NUL]}),
                "admin",
            ),
            Repro(
                "POST",
                f"{REG}/organizers",
                fixed({"email": f"{NUL}@example.org", "password": "0123456789ab"}),
                "admin",
            ),
            Repro("POST", f"{REG}/auth/login", fixed({"email": f"{NUL}@x.org", "password": "x"})),
            Repro("GET", f"{REG}/events/{{slug}}/registrations", None, "admin", {"q": NUL}),
            Repro("GET", f"{REG}/events/{{slug}}/registrations", None, "admin", {"status": NUL}),
            Repro("GET", f"{CHK}/events/a%00b/counts", None, "admin"),
            Repro("GET", f"{CHK}/events/a%00b/duplicates", None, "admin"),
            Repro("GET", f"{RALLY}/events/a%00b/rally"),
            Repro("GET", f"{RALLY}/events/a%00b/stats", None, "admin"),
            Repro("POST", f"{RALLY}/events/a%00b/rally", rally(), "admin"),
            Repro("PUT", f"{RALLY}/events/a%00b/rally", rally(), "admin"),
            Repro("PUT", f"{RALLY}/events/{{scratch}}/rally", rally(title={"ja": NUL}), "admin"),
            Repro("GET", f"{NTF}/events/a%00b/summary", None, "admin"),
            Repro("GET", f"{NTF}/events/a%00b/announcements", None, "admin"),
            Repro("GET", f"{NTF}/events/a%00b/settings", None, "admin"),
            Repro(
                "PUT", f"{NTF}/events/a%00b/settings", fixed({"reminder_time": "10:00"}), "admin"
            ),
        ),
    ),
    Known(
        "A date-time whose offset puts it before year 1 or after year 9999 in UTC (pydantic"
        " accepts it) answers 500: asyncpg cannot encode it (DataError: date value out of"
        " range). Expected: 422.",
        lambda case, failure: (
            isinstance(failure, ServerError) and any(beyond_utc(text) for text in sent(case))
        ),
        (
            Repro("POST", f"{REG}/events", event(starts_at=BEFORE_YEAR_1), "admin"),
            Repro("POST", f"{REG}/events", event(ends_at=AFTER_YEAR_9999), "admin"),
            Repro("POST", f"{REG}/events", event(registration_opens_at=BEFORE_YEAR_1), "admin"),
            Repro("POST", f"{REG}/events", event(registration_closes_at=AFTER_YEAR_9999), "admin"),
            Repro("POST", f"{REG}/events", category(opens_at=BEFORE_YEAR_1), "admin"),
            Repro("POST", f"{REG}/events", category(closes_at=AFTER_YEAR_9999), "admin"),
            Repro(
                "PUT", f"{RALLY}/events/{{scratch}}/rally", rally(opens_at=BEFORE_YEAR_1), "admin"
            ),
            Repro(
                "PUT",
                f"{RALLY}/events/{{scratch}}/rally",
                rally(closes_at=AFTER_YEAR_9999),
                "admin",
            ),
            Repro(
                "POST",
                f"{CHK}/scans",
                scan(client_scan_id="old-1", scanned_at=BEFORE_YEAR_1),
                "gate",
            ),
            Repro(
                "POST",
                f"{CHK}/scans/batch",
                lambda seed: {
                    "scans": [scan(client_scan_id="old-2", scanned_at=BEFORE_YEAR_1)(seed)]
                },
                "gate",
            ),
            Repro(
                "POST",
                f"{RALLY}/stamps",
                scan(client_scan_id="old-3", scanned_at=BEFORE_YEAR_1),
                "booth",
            ),
        ),
    ),
    Known(
        "GET /api/registration/events/{slug}/registrations?limit=abc answers 500 (ValueError"
        " from int()). Expected: 422. `limit` (like `cursor`, `status`, `category`,"
        " `language`, `q`, `format`) is not in the document, so the fuzzer never sends it.",
        lambda case, failure: False,
        (Repro("GET", f"{REG}/events/{{slug}}/registrations", None, "admin", {"limit": "abc"}),),
    ),
)


class Running:
    """The running services' data, for the generation hooks below: Schemathesis builds
    its strategies from the schemas made at import (pytest parametrizes with them), while
    the data exists only once the ``live`` fixture has made it."""

    live: Live | None = None


def seeded_paths(context: schemathesis.HookContext, strategy: Any) -> Any:
    """Path parameters from the seeded data half of the time, else as generated."""
    assert context.operation is not None
    seeded = Running.live.seeded_path(context.operation.label) if Running.live else None
    return strategy if seeded is None else st.one_of(st.just(seeded), strategy)


def genuine_bodies(context: schemathesis.HookContext, strategy: Any) -> Any:
    """Bodies with a genuine ticket, pairing code or password half of the time."""
    assert context.operation is not None
    swap = Running.live.genuine_body(context.operation.label) if Running.live else None
    if swap is None:
        return strategy
    return st.one_of(st.tuples(strategy, st.integers(0, 7)).map(lambda b: swap(*b)), strategy)


def served_document(definition: ServiceDefinition) -> dict[str, Any]:
    """The document ``build_app`` serves at ``/api/<service>/openapi.json`` (shared/runtime.py);
    ``test_the_fuzzed_documents_are_the_served_ones`` keeps the two the same."""
    routes = [*health_routes(definition), *definition.routes()]
    return document(f"Tomoni {definition.name}", "1", routes)


def fuzzed_schemas(examples: int, *, soak: bool = False) -> dict[str, schemathesis.BaseSchema]:
    schemas = {}
    for definition in DEFINITIONS:
        schema = schemathesis.openapi.from_dict(
            served_document(definition), config=fuzz_config(examples, soak=soak)
        )
        schema.hook("before_generate_path_parameters")(seeded_paths)
        schema.hook("before_generate_body")(genuine_bodies)
        schemas[definition.name] = schema
    return schemas


@pytest.fixture(scope="module")
def live(
    loop_thread: LoopThread,
    make_settings: Any,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("reg")
    with loop_thread.entered(running_services(make_settings, database_url, tmp)) as stack:
        Running.live = Live(
            base=stack.base, admin=stack.admin, seed=loop_thread.run(make_seed(stack))
        )
        try:
            yield Running.live
        finally:
            Running.live = None


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
def test_the_fuzzed_documents_are_the_served_ones(
    live: Live, http: requests.Session, definition: ServiceDefinition
) -> None:
    r = http.get(f"{live.base}/api/{definition.name}/openapi.json", timeout=20)
    assert r.status_code == 200
    assert r.json() == served_document(definition)


@schemathesis.pytest.parametrize(**fuzzed_schemas(EXAMPLES))
def test_every_operation_conforms(
    case: schemathesis.Case, live: Live, http: requests.Session
) -> None:
    conforms(
        case,
        base_url=live.base,
        session=http,
        headers=live.credentials(case),
        params=live.params(case),
    )


@pytest.mark.soak
@schemathesis.pytest.parametrize(**fuzzed_schemas(SOAK_EXAMPLES, soak=True))
def test_every_operation_conforms_soak(
    case: schemathesis.Case, live: Live, http: requests.Session
) -> None:
    conforms(
        case,
        base_url=live.base,
        session=http,
        headers=live.credentials(case),
        params=live.params(case),
    )


def send(live: Live, http: requests.Session, repro: Repro) -> requests.Response:
    seed = live.seed
    who = repro.who
    headers = (
        live.admin
        if who == "admin"
        else {"Authorization": f"Bearer {seed.device_tokens[who]}"}
        if who
        else {}
    )
    return http.request(
        repro.method,
        live.base + repro.path.format(slug=seed.slug, scratch=seed.scratch),
        json=repro.body(seed) if repro.body else None,
        params=repro.params,
        headers=headers,
        timeout=20,
        stream=True,  # the status is enough (and the live board would never end)
    )


@pytest.mark.parametrize(
    "repro",
    [
        pytest.param(
            repro,
            id=f"{i}: {repro.method} {repro.path}",
        )
        for i, (known, repro) in enumerate(
            (known, repro) for known in FOUND for repro in known.reproductions
        )
    ],
)
def test_what_was_found(live: Live, http: requests.Session, repro: Repro) -> None:
    """Each failure the fuzzing found, as found: fixed, it answers no 5xx."""
    with send(live, http, repro) as r:
        assert r.status_code < 500, (r.status_code, repro)


# -- the control -------------------------------------------------------------------------------
class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=20)


class ThingOut(BaseModel):
    id: str
    name: str


async def crash(request: web.Request) -> web.StreamResponse:
    raise RuntimeError("control: an unhandled bug")  # the error middleware answers 500


async def wrong_body(request: web.Request) -> web.StreamResponse:
    thing = await parse_body(request, Thing)
    return json_response({"id": 7, "name": thing.name})  # `id` is declared a string


async def wrong_type(request: web.Request) -> web.StreamResponse:
    return web.Response(status=400, text="no")  # text/plain, not a problem+json


async def honest(request: web.Request) -> web.StreamResponse:
    thing = await parse_body(request, Thing)
    return json_response({"id": str(uuid.uuid4()), "name": thing.name}, status=201)


def control_routes() -> list[Route]:
    return [
        Route("GET", "/api/control/crash", crash, "Crashes", responses={200: ThingOut}),
        Route(
            "POST",
            "/api/control/wrong-body",
            wrong_body,
            "Answers a body its schema forbids",
            body=Thing,
            responses={200: ThingOut},
        ),
        Route(
            "GET",
            "/api/control/wrong-type",
            wrong_type,
            "Answers an undeclared content type",
            responses={200: ThingOut},
        ),
        Route(
            "POST",
            "/api/control/honest",
            honest,
            "Keeps its contract",
            body=Thing,
            responses={201: ThingOut},
        ),
    ]


@asynccontextmanager
async def serving_control() -> AsyncIterator[str]:
    app = new_app(1024 * 1024)
    add_routes(app, [*control_routes(), openapi_route("control", control_routes)])
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def failures_of(
    operation: schemathesis.APIOperation, check: Callable[[schemathesis.Case], None]
) -> list[Failure]:
    """Every failure the checks report on ``operation``'s generated cases, positive and
    negative (collected rather than raised, so one failing case does not hide others)."""
    found: list[Failure] = []

    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(data=st.data())
    def run(data: st.DataObject) -> None:
        # Without a body there is nothing to make invalid: positive cases only.
        for mode in MODES if operation.body else MODES[:1]:
            case = data.draw(operation.as_strategy(generation_mode=mode))
            try:
                check(case)
            except FailureGroup as exc:
                found.extend(exc.exceptions)

    run()
    return found


@pytest.fixture(scope="module")
def control(loop_thread: LoopThread) -> Iterator[tuple[str, schemathesis.BaseSchema]]:
    with loop_thread.entered(serving_control()) as base:
        yield (
            base,
            schemathesis.openapi.from_url(
                f"{base}/api/control/openapi.json", config=fuzz_config(EXAMPLES)
            ),
        )


@pytest.mark.parametrize(
    ("path", "method", "failure"),
    [
        ("/api/control/crash", "GET", ServerError),
        ("/api/control/wrong-body", "POST", JsonSchemaError),
        ("/api/control/wrong-type", "GET", UndefinedContentType),
    ],
)
def test_control_the_checks_report_a_broken_contract(
    control: tuple[str, schemathesis.BaseSchema],
    http: requests.Session,
    path: str,
    method: str,
    failure: type[Failure],
) -> None:
    base, schema = control
    found = failures_of(
        schema[path][method], lambda case: conforms(case, base_url=base, session=http)
    )
    assert any(isinstance(f, failure) for f in found), found


def test_control_the_checks_pass_a_kept_contract(
    control: tuple[str, schemathesis.BaseSchema], http: requests.Session
) -> None:
    base, schema = control
    found = failures_of(
        schema["/api/control/honest"]["POST"],
        lambda case: conforms(case, base_url=base, session=http),
    )
    assert found == []
