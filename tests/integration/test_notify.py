"""Notify against real PostgreSQL, NATS, an SMTP server (aiosmtpd) and an HTTP SMS
gateway, with registration running beside it: every registrant hears what matters, in
their language, once; outages lose nothing; refused addresses end up dead and visible."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import nats
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.notify import domain
from services.notify import service as notify_service
from services.notify.app import DEFINITION
from services.notify.app import create_app as notify_app
from services.notify.settings import NotifySettings
from shared.runtime import RUNTIME, build_app
from shared.testing import wait_until
from tests.integration.mailfixtures import (
    Mailbox,
    SmsGateway,
    SmtpServer,
    decode_qr,
    image_parts,
)
from tests.integration.regfixtures import Category, make_event, person, running_registration

REG = "/api/registration"
NTF = "/api/notify"

FAST = {
    "notify_poll_seconds": 0.2,
    "notify_reminder_poll_seconds": 3600.0,  # the tests call the scheduler themselves
    "notify_channel_retry_base_seconds": 0.2,
    "notify_channel_retry_cap_seconds": 0.5,
    "notify_retry_base_seconds": 0.1,
    "notify_retry_cap_seconds": 0.2,
    "mail_from": "Kawaguchi City Tomoni <noreply@tomoni.test>",
}


@pytest.fixture(scope="module")
def box() -> Mailbox:
    return Mailbox()


@pytest.fixture(scope="module")
def smtp(box: Mailbox) -> Any:
    server = SmtpServer(box)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def sms() -> AsyncIterator[SmsGateway]:
    gateway = SmsGateway()
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory, sms: SmsGateway
) -> AsyncIterator[TestClient]:
    async for c in running_registration(
        make_settings, tmp_path_factory.mktemp("reg"), sms_url=sms.url
    ):
        yield c


@pytest.fixture(scope="module")
async def ntf(
    make_settings: Any, reg: TestClient, smtp: SmtpServer, sms: SmsGateway
) -> AsyncIterator[TestClient]:
    settings = make_settings(NotifySettings, smtp_url=smtp.url, sms_url=sms.url, **FAST)
    client = TestClient(TestServer(notify_app(settings)))
    await client.start_server()
    yield client
    await client.close()


async def register(reg: TestClient, slug: str, **body: Any) -> dict[str, Any]:
    r = await reg.post(f"{REG}/events/{slug}/registrations", json=body)
    assert r.status == 201, await r.text()
    result: dict[str, Any] = await r.json()
    return result


async def mails_to(box: Mailbox, address: str, n: int = 1, timeout: float = 20) -> list[Any]:
    async def enough() -> list[Any] | None:
        found = box.to(address)
        return found if len(found) >= n else None

    found: list[Any] = await wait_until(enough, timeout=timeout, message=f"{n} mail to {address}")
    return found


async def statuses(
    ntf: TestClient, admin: dict[str, str], registration_id: str
) -> list[dict[str, Any]]:
    r = await ntf.get(
        f"{NTF}/notifications", params={"registration": registration_id}, headers=admin
    )
    assert r.status == 200, await r.text()
    items: list[dict[str, Any]] = (await r.json())["items"]
    return items


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_a_vietnamese_registrant_gets_one_ticket_email_whose_qr_decodes(
    reg: TestClient, ntf: TestClient, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    address = f"vi-{uuid.uuid4().hex[:8]}@example.org"
    made = await register(reg, slug, **person(1, email=address, language="vi"))
    [mail] = await mails_to(box, address)

    assert mail["Subject"].startswith("Vé của bạn"), mail["Subject"]
    assert mail["Content-Language"] == "vi"
    assert "Tran Van 1" in text_of(mail) and "Xin chào" in text_of(mail)
    assert made["manage_url"] in text_of(mail)
    assert 'lang="vi"' in html_of(mail) and 'src="cid:ticket-qr"' in html_of(mail)
    images = image_parts(mail)
    inline = [p for p in images if p["Content-ID"] == "<ticket-qr>"]
    attached = [p for p in images if p.get_filename() == "ticket-qr.png"]
    assert len(inline) == 1 and len(attached) == 1
    assert decode_qr(inline[0].get_content()) == made["ticket"]["qr_text"]
    assert decode_qr(attached[0].get_content()) == made["ticket"]["qr_text"]

    [status] = await wait_until(
        lambda: _sent(ntf, admin, made["id"], 1), timeout=10, message="status sent"
    )
    assert status["template"] == "ticket" and status["language"] == "vi"
    assert status["channel"] == "email" and status["attempts"] == 1
    await asyncio.sleep(1.0)
    assert len(box.to(address)) == 1


async def _sent(
    ntf: TestClient, admin: dict[str, str], registration_id: str, n: int
) -> list[dict[str, Any]] | None:
    items = await statuses(ntf, admin, registration_id)
    sent = [i for i in items if i["status"] == "sent"]
    return sent if len(sent) >= n else None


async def test_japanese_mail_has_furigana_in_html_and_none_in_text(
    reg: TestClient, ntf: TestClient, box: Mailbox
) -> None:
    slug = await make_event(reg)
    address = f"ja-{uuid.uuid4().hex[:8]}@example.org"
    await register(reg, slug, **person(2, email=address, language="ja"))
    [mail] = await mails_to(box, address)
    assert "<ruby>" in html_of(mail) and "<rt>" in html_of(mail)
    assert "<ruby>" not in text_of(mail) and "<ruby>" not in mail["Subject"]
    assert "多文化ふれあいフェスタ" in mail["Subject"]


async def test_a_phone_only_registrant_gets_one_sms(
    reg: TestClient, ntf: TestClient, sms: SmsGateway, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    body = person(3, language="en")
    del body["email"]
    made = await register(reg, slug, **body, phone="090-1234-5678")

    await wait_until(
        lambda: _async([m for m in sms.received if made["manage_url"] in m["text"]] or None),
        timeout=20,
        message="sms",
    )
    mine = [m for m in sms.received if made["manage_url"] in m["text"]]
    assert len(mine) == 1
    assert mine[0]["to"] == "+819012345678"
    assert "Multicultural Fair" in mine[0]["text"]
    encoding, segments = domain.segments_of(mine[0]["text"])
    assert encoding == "GSM-7" and segments <= 3
    [item] = await wait_until(
        lambda: _sent(ntf, admin, made["id"], 1), timeout=10, message="sms recorded sent"
    )
    assert item["detail"]["encoding"] == "GSM-7" and item["detail"]["segments"] == segments
    assert item["detail"]["truncated"] is False


async def _async(value: Any) -> Any:
    return value


async def test_waitlist_promotion_and_cancellation_each_send_one_message(
    reg: TestClient, ntf: TestClient, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(
        reg, Category(code="visitor", title={"ja": "来場者"}, capacity=1, max_party_size=2)
    )
    first = f"first-{uuid.uuid4().hex[:8]}@example.org"
    second = f"second-{uuid.uuid4().hex[:8]}@example.org"
    a = await register(reg, slug, **person(4, email=first, language="en"))
    b = await register(reg, slug, **person(5, email=second, language="en"))
    assert b["status"] == "waitlisted"
    [waiting] = await mails_to(box, second)
    assert waiting["Subject"].startswith("You are on the waiting list")
    assert "number 1 on the waiting list" in text_of(waiting)

    r = await reg.post(
        f"{REG}/registrations/{a['id']}/cancel", headers={"X-Registration-Secret": a["secret"]}
    )
    assert r.status == 200
    cancelled = await mails_to(box, first, 2)
    assert cancelled[1]["Subject"].startswith("Your registration is cancelled")
    promoted = await mails_to(box, second, 2)
    assert promoted[1]["Subject"].startswith("A place is free for you")
    ticket = (
        await (
            await reg.get(
                f"{REG}/registrations/{b['id']}", headers={"X-Registration-Secret": b["secret"]}
            )
        ).json()
    )["ticket"]
    [qr] = [p for p in image_parts(promoted[1]) if p["Content-ID"] == "<ticket-qr>"]
    assert decode_qr(qr.get_content()) == ticket["qr_text"]
    await asyncio.sleep(1.0)
    assert len(box.to(first)) == 2 and len(box.to(second)) == 2


async def test_screening_sends_acceptance_with_ticket_and_rejection(
    reg: TestClient, ntf: TestClient, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(
        reg,
        Category(code="contestant", title={"ja": "出場者"}, capacity=5, review=True),
    )
    yes = f"yes-{uuid.uuid4().hex[:8]}@example.org"
    no = f"no-{uuid.uuid4().hex[:8]}@example.org"
    a = await register(reg, slug, **person(6, email=yes, language="tr", category="contestant"))
    b = await register(reg, slug, **person(7, email=no, language="ko", category="contestant"))
    assert (await reg.post(f"{REG}/registrations/{a['id']}/approve", headers=admin)).status == 200
    assert (await reg.post(f"{REG}/registrations/{b['id']}/reject", headers=admin)).status == 200
    [accepted] = await mails_to(box, yes)
    [rejected] = await mails_to(box, no)
    assert accepted["Content-Language"] == "tr" and rejected["Content-Language"] == "ko"
    assert any(p["Content-ID"] == "<ticket-qr>" for p in image_parts(accepted))
    assert image_parts(rejected) == []


async def test_announcement_reaches_everyone_registered_and_unsubscribe_stops_the_next(
    reg: TestClient, ntf: TestClient, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    tag = uuid.uuid4().hex[:8]
    people = [f"ann{i}-{tag}@example.org" for i in range(3)]
    made = [
        await register(reg, slug, **person(10 + i, email=e, language="en"))
        for i, e in enumerate(people)
    ]
    for address in people:
        await mails_to(box, address)
    r = await reg.post(
        f"{REG}/registrations/{made[2]['id']}/cancel",
        headers={"X-Registration-Secret": made[2]["secret"]},
    )
    assert r.status == 200
    await mails_to(box, people[2], 2)

    subject = {"ja": "会場が変わります", "en": "The venue has changed"}
    body = {"ja": "2階のホールに変わります。", "en": "It is now in the hall on the 2nd floor."}
    r = await reg.post(
        f"{REG}/events/{slug}/announcements", headers=admin, json={"subject": subject, "body": body}
    )
    assert r.status in (200, 201, 202), await r.text()
    first = await mails_to(box, people[0], 2)
    await mails_to(box, people[1], 2)
    announcement = first[1]
    assert "The venue has changed" in announcement["Subject"]
    assert "2nd floor" in text_of(announcement)
    link = announcement["List-Unsubscribe"].strip("<>")
    assert announcement["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The cancelled registrant hears nothing more.
    await asyncio.sleep(1.0)
    assert len(box.to(people[2])) == 2

    # The link's page asks first (a GET changes nothing), then the button stops them.
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = await ntf.get(f"/{path}")
    assert page.status == 200 and 'name="t"' in await page.text()
    token = path.split("t=", 1)[1]
    done = await ntf.post("/notify/unsubscribe", data={"t": token})
    assert done.status == 200
    forged = await ntf.post("/notify/unsubscribe", data={"t": token[:-2] + "00"})
    assert forged.status == 404

    r = await reg.post(
        f"{REG}/events/{slug}/announcements",
        headers=admin,
        json={"subject": {"en": "Second"}, "body": {"en": "Again"}},
    )
    await mails_to(box, people[1], 3)
    await asyncio.sleep(1.0)
    assert len(box.to(people[0])) == 2, "unsubscribed from announcements"

    stats = await (await ntf.get(f"{NTF}/events/{slug}/announcements", headers=admin)).json()
    totals = sorted((i["sent"], i["total"]) for i in stats["items"])
    assert totals == [(1, 1), (2, 2)]


async def test_reminders_go_the_day_before_to_confirmed_registrants_once(
    reg: TestClient, ntf: TestClient, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    rt = ntf.server.app[RUNTIME]
    tag = uuid.uuid4().hex[:8]
    going, leaving = f"going-{tag}@example.org", f"leaving-{tag}@example.org"
    a = await register(reg, slug, **person(30, email=going, language="zh"))
    b = await register(reg, slug, **person(31, email=leaving, language="en"))
    await mails_to(box, leaving)
    await reg.post(
        f"{REG}/registrations/{b['id']}/cancel", headers={"X-Registration-Secret": b["secret"]}
    )
    await mails_to(box, going)
    await mails_to(box, leaving, 2)

    r = await ntf.put(
        f"{NTF}/events/{slug}/settings",
        headers=admin,
        json={"reminder_time": "18:30", "rally_completed": False},
    )
    assert r.status == 200 and (await r.json())["reminder_time"] == "18:30"
    bad = await ntf.put(
        f"{NTF}/events/{slug}/settings", headers=admin, json={"reminder_time": "25:00"}
    )
    assert bad.status == 422
    event = await rt.pool.fetchrow("SELECT starts_at, timezone FROM events WHERE slug=$1", slug)
    due = domain.reminder_due(
        event["starts_at"], datetime.strptime("18:30", "%H:%M").time(), event["timezone"]
    )
    assert (
        await notify_service.make_due_reminders(rt, now=due - timedelta(minutes=1), only=slug) == 0
    )
    assert (
        await notify_service.make_due_reminders(rt, now=due + timedelta(minutes=1), only=slug) == 1
    )
    assert (
        await notify_service.make_due_reminders(rt, now=due + timedelta(minutes=2), only=slug) == 0
    )

    mails = await mails_to(box, going, 2)
    assert mails[1]["Content-Language"] == "zh"
    assert any(p["Content-ID"] == "<ticket-qr>" for p in image_parts(mails[1]))
    await asyncio.sleep(1.0)
    assert len(box.to(leaving)) == 2, "a cancelled registration gets no reminder"
    assert [i["template"] for i in await statuses(ntf, admin, a["id"])] == ["ticket", "reminder"]


async def test_an_address_the_server_refuses_ends_dead_and_the_rest_goes_on(
    reg: TestClient, ntf: TestClient, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    tag = uuid.uuid4().hex[:8]
    bad, good = f"nobody-{tag}@example.org", f"somebody-{tag}@example.org"
    box.refuse.add(bad)
    a = await register(reg, slug, **person(40, email=bad, language="en"))
    await register(reg, slug, **person(41, email=good, language="en"))
    await mails_to(box, good)

    async def dead() -> list[dict[str, Any]] | None:
        items = await statuses(ntf, admin, a["id"])
        return items if items and items[0]["status"] == "dead" else None

    [item] = await wait_until(dead, timeout=20, message="dead after its attempts")
    assert item["attempts"] == 3 and item["error"].startswith("smtp 550")
    assert box.to(bad) == []


async def test_smtp_down_then_up_everything_sent_once_in_order(
    reg: TestClient, ntf: TestClient, box: Mailbox, smtp: SmtpServer, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    tag = uuid.uuid4().hex[:8]
    addresses = [f"outage{i}-{tag}@example.org" for i in range(6)]
    smtp.stop()
    try:
        made = [
            await register(reg, slug, **person(50 + i, email=e, language="en"))
            for i, e in enumerate(addresses)
        ]

        async def tried() -> bool:
            items = await statuses(ntf, admin, made[0]["id"])
            return bool(items) and items[0]["status"] == "failed"

        await wait_until(tried, timeout=20, message="a failed attempt while SMTP is down")
        await asyncio.sleep(1.5)
    finally:
        smtp.start()
    for address in addresses:
        await mails_to(box, address, timeout=30)
    await asyncio.sleep(1.0)
    order = [m["To"] for m in box.snapshot() if m["To"] in addresses]
    assert order == addresses
    for m in made:
        [item] = await statuses(ntf, admin, m["id"])
        assert item["status"] == "sent"


async def test_an_sms_the_gateway_rejects_is_dead_and_visible(
    reg: TestClient, ntf: TestClient, sms: SmsGateway, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    sms.reject.add("+819011112222")
    body = person(60, language="ja", notify_by="sms")
    del body["email"]
    made = await register(reg, slug, **body, phone="09011112222")

    async def dead() -> list[dict[str, Any]] | None:
        items = await statuses(ntf, admin, made["id"])
        return items if items and items[0]["status"] == "dead" else None

    [item] = await wait_until(dead, timeout=20, message="dead sms")
    assert item["channel"] == "sms" and item["error"].startswith("gateway 400")


async def test_a_malformed_fact_is_dead_lettered_and_the_consumer_goes_on(
    reg: TestClient, ntf: TestClient, box: Mailbox, db: asyncpg.Pool, servers: Any, namespace: str
) -> None:
    nc = await nats.connect(servers.nats_url)
    try:
        await nc.jetstream().publish(
            f"{namespace}.registration.registration.confirmed", b"{not json"
        )
    finally:
        await nc.close()
    await wait_until(
        lambda: db.fetchval("SELECT count(*) > 0 FROM notify.dead_letters"),
        timeout=20,
        message="dead letter",
    )
    slug = await make_event(reg)
    address = f"after-poison-{uuid.uuid4().hex[:8]}@example.org"
    await register(reg, slug, **person(70, email=address, language="en"))
    await mails_to(box, address)


async def test_notifications_api_checks_who_asks(
    reg: TestClient, ntf: TestClient, admin: dict[str, str], box: Mailbox
) -> None:
    slug = await make_event(reg)
    address = f"auth-{uuid.uuid4().hex[:8]}@example.org"
    made = await register(reg, slug, **person(80, email=address, language="en"))
    await mails_to(box, address)
    other = await reg.post(
        f"{REG}/organizers",
        headers=admin,
        json={"email": f"o-{uuid.uuid4().hex[:6]}@city.test", "password": "x" * 16, "events": []},
    )
    assert other.status == 201, await other.text()
    creds = await other.json()
    login = await reg.post(
        f"{REG}/auth/login", json={"email": creds["email"], "password": "x" * 16}
    )
    theirs = {"Authorization": f"Bearer {(await login.json())['token']}"}
    url = f"{NTF}/notifications"
    assert (await ntf.get(url, params={"registration": made["id"]})).status == 401
    assert (await ntf.get(url, params={"registration": made["id"]}, headers=theirs)).status == 403
    assert (await ntf.get(url, params={"registration": "nope"}, headers=admin)).status == 422
    ok = await ntf.get(url, params={"registration": made["id"]}, headers=admin)
    assert ok.status == 200


async def test_the_console_page_shows_what_was_sent_and_saves_the_reminder_time(
    reg: TestClient, ntf: TestClient, box: Mailbox, admin: dict[str, str]
) -> None:
    slug = await make_event(reg)
    address = f"console-{uuid.uuid4().hex[:8]}@example.org"
    await register(reg, slug, **person(90, email=address, language="en"))
    await mails_to(box, address)
    session = {"Cookie": f"tomoni_session={admin['Authorization'][7:]}; tomoni_lang=ja"}

    anonymous = await ntf.get(f"/console/notify/{slug}", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/console/login"

    page = await ntf.get(f"/console/notify/{slug}", headers=session)
    html = await page.text()
    assert page.status == 200 and 'lang="ja"' in html
    assert "チケット" in html  # the ticket row, in the organizer's language
    csrf = page.cookies["tomoni_notify_csrf"].value

    forged = await ntf.post(
        f"/console/notify/{slug}/settings",
        headers=session,
        data={"reminder_on": "1", "reminder_time": "19:15"},
        allow_redirects=False,
    )
    assert forged.status == 403
    saved = await ntf.post(
        f"/console/notify/{slug}/settings",
        headers={"Cookie": f"{session['Cookie']}; tomoni_notify_csrf={csrf}"},
        data={"csrf": csrf, "reminder_on": "1", "reminder_time": "19:15", "rally_completed": "1"},
        allow_redirects=False,
    )
    assert saved.status == 303
    settings = await (await ntf.get(f"{NTF}/events/{slug}/settings", headers=admin)).json()
    assert settings == {"event": slug, "reminder_time": "19:15", "rally_completed": True}


async def test_personal_data_is_deleted_when_the_events_retention_ends(
    reg: TestClient, ntf: TestClient, box: Mailbox, db: asyncpg.Pool
) -> None:
    from services.notify import repository

    kept_slug = await make_event(reg)
    gone_slug = await make_event(reg)
    tag = uuid.uuid4().hex[:8]
    await register(reg, kept_slug, **person(95, email=f"kept-{tag}@example.org", language="en"))
    await register(reg, gone_slug, **person(96, email=f"gone-{tag}@example.org", language="en"))
    await mails_to(box, f"kept-{tag}@example.org")
    await mails_to(box, f"gone-{tag}@example.org")
    # The second event ended 31 days ago and keeps personal data for 30 days.
    await db.execute(
        "UPDATE notify.events SET starts_at = now() - interval '32 days',"
        " ends_at = now() - interval '31 days', retention_days = 30 WHERE slug = $1",
        gone_slug,
    )
    rt = ntf.server.app[RUNTIME]
    purged = await repository.purge_expired(rt.pool)
    assert purged["recipients"] >= 1 and purged["notifications"] >= 1
    count = "SELECT count(*) FROM notify.{} WHERE event = $1"
    assert await db.fetchval(count.format("recipients"), gone_slug) == 0
    assert await db.fetchval(count.format("notifications"), gone_slug) == 0
    assert await db.fetchval(count.format("recipients"), kept_slug) == 1
    assert await db.fetchval(count.format("notifications"), kept_slug) == 1


async def test_a_complete_stamp_card_gets_a_message_only_where_organizers_want_one(
    reg: TestClient,
    ntf: TestClient,
    box: Mailbox,
    admin: dict[str, str],
    servers: Any,
    namespace: str,
) -> None:
    from shared.contracts.stamprally import RallyCompleted
    from shared.events import envelope_for

    tag = uuid.uuid4().hex[:8]
    wanted, quiet = await make_event(reg), await make_event(reg)
    people = {}
    for slug in (wanted, quiet):
        address = f"rally-{slug}-{tag}@example.org"
        people[slug] = (
            address,
            await register(reg, slug, **person(97, email=address, language="th")),
        )
        await mails_to(box, address)
    # Set once notify knows the event (its ticket email has gone).
    r = await ntf.put(
        f"{NTF}/events/{wanted}/settings",
        headers=admin,
        json={"reminder_time": None, "rally_completed": True},
    )
    assert r.status == 200
    nc = await nats.connect(servers.nats_url)
    try:
        for slug, (_address, made) in people.items():
            envelope = envelope_for(
                RallyCompleted(
                    ticket_id=made["ticket"]["id"], registration_id=made["id"], stamps=12
                ),
                event=slug,
            )
            await nc.jetstream().publish(
                envelope.subject(namespace),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )
    finally:
        await nc.close()
    [_ticket, done] = await mails_to(box, people[wanted][0], 2)
    assert done["Content-Language"] == "th"
    await asyncio.sleep(1.0)
    assert len(box.to(people[quiet][0])) == 1, "rally message switched off for this event"


# Last in the module: its control stops the module's notify to run one without the claim.
async def test_redelivered_facts_send_nothing_twice_and_the_claim_is_what_stops_them(
    reg: TestClient,
    ntf: TestClient,
    box: Mailbox,
    db: asyncpg.Pool,
    make_settings: Any,
    smtp: SmtpServer,
    namespace: str,
    servers: Any,
) -> None:
    """A fact published again after its inbox claim is gone (a replay older than the
    inbox's retention) is stopped by the unique key. Control: a notify without that key
    sends the same ticket twice."""
    slug = await make_event(reg)
    address = f"replay-{uuid.uuid4().hex[:8]}@example.org"
    made = await register(reg, slug, **person(20, email=address, language="en"))
    await mails_to(box, address)

    rows = await db.fetch(
        "SELECT subject, body FROM registration.outbox WHERE event_type = 'registration.confirmed'"
    )
    [row] = [r for r in rows if made["id"].encode() in r["body"]]
    nc = await nats.connect(servers.nats_url)
    try:
        js = nc.jetstream()

        async def republish() -> None:
            await db.execute("DELETE FROM notify.inbox")
            await js.publish(
                row["subject"],
                bytes(row["body"]),
                headers={"Nats-Msg-Id": uuid.uuid4().hex},
            )

        await republish()
        await asyncio.sleep(2.0)
        assert len(box.to(address)) == 1

        # Control: the same redelivery to a notify without the unique claim.
        await ntf.close()
        unsafe = TestClient(
            TestServer(
                build_app(
                    DEFINITION,
                    make_settings(NotifySettings, smtp_url=smtp.url, **FAST),
                    unsafe_no_claim=True,
                )
            )
        )
        await unsafe.start_server()
        try:
            await republish()
            await mails_to(box, address, 2)
        finally:
            await unsafe.close()
    finally:
        await nc.close()
