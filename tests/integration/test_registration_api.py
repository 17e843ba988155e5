"""The registration API as API.md writes it: bad input refused with a localized problem
and nothing stored, retries that change nothing, secrets that protect, signed tickets a
real QR decoder reads, organizers scoped to their events."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import zxingcpp
from aiohttp.test_utils import TestClient
from PIL import Image

from services.registration.domain import Category, Choice, FormField
from shared.errors import Conflict
from shared.security import InvalidTicket, b64url_decode, public_key_from_raw, verify_ticket
from tests.integration.regfixtures import ADMIN, make_event, person, running_registration

API = "/api/registration"


@pytest.fixture(scope="module")
async def client(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


@pytest.fixture(scope="module")
async def admin(client: TestClient) -> dict[str, str]:
    r = await client.post(f"{API}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
    assert r.status == 200
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


def contest_categories() -> tuple[Category, ...]:
    nationality = FormField(
        key="nationality",
        type="text",
        label={"ja": "国籍", "en": "Nationality"},
        required=True,
        max_length=40,
    )
    years = FormField(key="years_in_japan", type="number", label={"en": "Years"}, required=True)
    interp = FormField(
        key="interpreter",
        type="choice",
        label={"en": "Interpreter"},
        choices=(Choice("none", {"en": "No"}), Choice("vi", {"en": "Vietnamese"})),
    )
    return (
        Category(
            code="contestant",
            title={"ja": "出場者"},
            capacity=2,
            review=True,
            fields=(nationality, years),
        ),
        Category(
            code="audience", title={"ja": "観覧"}, capacity=100, max_party_size=4, fields=(interp,)
        ),
    )


async def count(db: asyncpg.Pool, slug: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM registration.registrations WHERE event_slug=$1", slug
        )
    )


async def test_confirmed_registration_with_a_ticket_a_real_decoder_reads(
    client: TestClient,
) -> None:
    slug = await make_event(client)
    r = await client.post(f"{API}/events/{slug}/registrations", json=person(1, party_size=1))
    assert r.status == 201
    body = await r.json()
    assert body["status"] == "confirmed" and body["manage_url"].endswith(body["secret"])
    ticket = body["ticket"]
    png = await client.get(ticket["qr_png_url"])
    assert png.status == 200 and png.headers["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(await png.read())))
    assert (
        decoded[0].text == ticket["qr_text"] and decoded[0].format == zxingcpp.BarcodeFormat.QRCode
    )
    assert decoded[0].symbol_version <= 6 if hasattr(decoded[0], "symbol_version") else True
    svg = await client.get(ticket["qr_svg_url"])
    assert svg.status == 200 and (await svg.text()).lstrip().startswith("<?xml")
    # Verify with the published keys alone.
    keys = (await (await client.get(f"{API}/keys")).json())["keys"]
    public = {b64url_decode(k["kid"]): public_key_from_raw(k["public_key"]) for k in keys}
    claims = verify_ticket(decoded[0].text, public)
    assert str(claims.ticket_id) == ticket["id"] and claims.is_for(slug)
    # The image link without its key shows nothing.
    bare = ticket["qr_png_url"].split("?")[0]
    assert (await client.get(bare)).status == 404
    assert (await client.get(bare + "?k=wrong")).status == 404


async def test_own_registration_needs_its_secret_and_never_shows_anothers(
    client: TestClient,
) -> None:
    slug = await make_event(client)
    a = await (await client.post(f"{API}/events/{slug}/registrations", json=person(1))).json()
    b = await (await client.post(f"{API}/events/{slug}/registrations", json=person(2))).json()
    ok = await client.get(
        f"{API}/registrations/{a['id']}", headers={"X-Registration-Secret": a["secret"]}
    )
    assert ok.status == 200 and (await ok.json())["email"] == "person1@example.org"
    for headers in ({}, {"X-Registration-Secret": b["secret"]}, {"X-Registration-Secret": "x"}):
        r = await client.get(f"{API}/registrations/{a['id']}", headers=headers)
        assert r.status == 404
        assert "person1" not in await r.text()
    unknown = await client.get(
        f"{API}/registrations/00000000-0000-7000-8000-000000000000",
        headers={"X-Registration-Secret": a["secret"]},
    )
    assert unknown.status == 404
    assert (await client.get(f"{API}/registrations/not-a-uuid")).status == 404


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"email": "not-an-email"}, "email", "invalid"),
        ({"phone": "12", "email": None}, "phone", "invalid"),
        ({"name": "x" * 101}, "name", "too_long"),
        ({"category": "nope"}, "category", "unknown"),
        ({"language": "xx"}, "language", "unknown"),
        ({"party_size": 5}, "party_size", "too_large"),
        ({"answers": {"interpreter": "klingon"}}, "answers.interpreter", "invalid"),
        ({"answers": {"shoe_size": 42}}, "answers.shoe_size", "unknown_field"),
        ({"email": None, "phone": None}, "email", "contact_missing"),
        ({"unexpected": 1}, "unexpected", "unknown_field"),
    ],
)
async def test_bad_input_is_a_localized_422_and_stores_nothing(
    client: TestClient, db: asyncpg.Pool, change: dict[str, Any], field: str, code: str
) -> None:
    slug = await make_event(client, *contest_categories())
    body = {**person(1, category="audience"), **change}
    r = await client.post(
        f"{API}/events/{slug}/registrations", json=body, headers={"Accept-Language": "ja"}
    )
    assert r.status == 422, await r.text()
    problem = await r.json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert {(e["field"], e["code"]) for e in problem["errors"]} >= {(field, code)}
    assert all(e["message"] for e in problem["errors"])
    assert problem["title"] != "Some of the information is not valid. Please check it."
    assert await count(db, slug) == 0


async def test_japanese_numbers_without_country_code_are_accepted(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client)
    r = await client.post(
        f"{API}/events/{slug}/registrations", json=person(1, email=None, phone="090-1234-5678")
    )
    assert r.status == 201
    phone = await db.fetchval(
        "SELECT phone FROM registration.registrations WHERE id=$1",
        __import__("uuid").UUID((await r.json())["id"]),
    )
    assert phone == "+819012345678"


async def test_malformed_json_and_oversized_body_store_nothing(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client)
    r = await client.post(
        f"{API}/events/{slug}/registrations",
        data=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 400
    big = json.dumps({**person(1), "answers": {"a": "y" * (1024 * 1024 + 10)}}).encode()
    r = await client.post(
        f"{API}/events/{slug}/registrations",
        data=io.BytesIO(big),
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 413
    assert await count(db, slug) == 0


async def test_registration_window_is_enforced(client: TestClient, db: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    not_yet = await make_event(client, registration_opens_at=now + timedelta(days=1))
    closed = await make_event(
        client,
        registration_closes_at=now - timedelta(minutes=1),
        registration_opens_at=now - timedelta(days=2),
    )
    r1 = await client.post(f"{API}/events/{not_yet}/registrations", json=person(1))
    r2 = await client.post(f"{API}/events/{closed}/registrations", json=person(1))
    assert (r1.status, (await r1.json())["code"]) == (409, "registration_not_open")
    assert (r2.status, (await r2.json())["code"]) == (409, "registration_closed")
    assert await count(db, not_yet) == 0 and await count(db, closed) == 0


async def test_same_idempotency_key_same_body_returns_the_first_answer(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client)
    headers = {"Idempotency-Key": "retry-from-a-phone-1"}
    answers = await asyncio.gather(
        *(
            client.post(f"{API}/events/{slug}/registrations", json=person(7), headers=headers)
            for _ in range(5)
        )
    )
    bodies = [await a.json() for a in answers]
    assert {a.status for a in answers} == {201}
    assert all(b == bodies[0] for b in bodies)
    assert await count(db, slug) == 1
    other = await client.post(f"{API}/events/{slug}/registrations", json=person(8), headers=headers)
    assert other.status == 422
    assert (await other.json())["errors"][0]["code"] == "idempotency_key_reused"
    assert await count(db, slug) == 1


async def test_second_active_registration_with_the_same_email_is_409(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client)
    first = await (await client.post(f"{API}/events/{slug}/registrations", json=person(1))).json()
    again = await client.post(
        f"{API}/events/{slug}/registrations", json=person(1, email="PERSON1@example.org")
    )
    assert again.status == 409 and (await again.json())["code"] == "duplicate_registration"
    # After cancelling, the same person may register again.
    await client.post(
        f"{API}/registrations/{first['id']}/cancel",
        headers={"X-Registration-Secret": first["secret"]},
    )
    assert (await client.post(f"{API}/events/{slug}/registrations", json=person(1))).status == 201


async def test_cancel_twice_is_harmless_and_returns_the_registration(client: TestClient) -> None:
    slug = await make_event(client)
    a = await (await client.post(f"{API}/events/{slug}/registrations", json=person(1))).json()
    h = {"X-Registration-Secret": a["secret"]}
    first = await client.post(f"{API}/registrations/{a['id']}/cancel", headers=h)
    second = await client.post(f"{API}/registrations/{a['id']}/cancel", headers=h)
    assert first.status == second.status == 200
    assert (await second.json())["status"] == "cancelled" and (await second.json())[
        "ticket"
    ] is None
    assert (await client.post(f"{API}/registrations/{a['id']}/cancel")).status == 404


async def test_party_size_change_respects_capacity_and_frees_places(client: TestClient) -> None:
    slug = await make_event(
        client, Category(code="visitor", title={"ja": "来場者"}, capacity=4, max_party_size=4)
    )
    a = await (
        await client.post(f"{API}/events/{slug}/registrations", json=person(1, party_size=3))
    ).json()
    b = await (
        await client.post(f"{API}/events/{slug}/registrations", json=person(2, party_size=2))
    ).json()
    assert (a["status"], b["status"]) == ("confirmed", "waitlisted")
    h = {"X-Registration-Secret": a["secret"]}
    grow = await client.post(
        f"{API}/registrations/{a['id']}/change", json={"party_size": 4}, headers=h
    )
    assert grow.status == 200  # 4 places, 4 people: fits
    too_big = await client.post(
        f"{API}/registrations/{a['id']}/change", json={"party_size": 5}, headers=h
    )
    assert too_big.status == 422
    shrink = await client.post(
        f"{API}/registrations/{a['id']}/change", json={"party_size": 2}, headers=h
    )
    assert (await shrink.json())["party_size"] == 2
    mine = await client.get(
        f"{API}/registrations/{b['id']}", headers={"X-Registration-Secret": b["secret"]}
    )
    assert (await mine.json())["status"] == "confirmed"  # promoted into the freed places


async def test_screening_approve_and_reject_by_an_organizer(
    client: TestClient, admin: dict[str, str]
) -> None:
    slug = await make_event(client, *contest_categories())
    apply = {
        **person(1, category="contestant"),
        "answers": {"nationality": "Viet Nam", "years_in_japan": 3},
    }
    a = await (await client.post(f"{API}/events/{slug}/registrations", json=apply)).json()
    b = await (
        await client.post(
            f"{API}/events/{slug}/registrations", json={**apply, "email": "b@example.org"}
        )
    ).json()
    assert a["status"] == b["status"] == "pending_review" and "ticket" not in a
    assert (await client.post(f"{API}/registrations/{a['id']}/approve")).status == 401
    ok = await client.post(f"{API}/registrations/{a['id']}/approve", headers=admin)
    assert (await ok.json())["status"] == "confirmed" and (await ok.json())["ticket"]
    no = await client.post(f"{API}/registrations/{b['id']}/reject", headers=admin)
    assert (await no.json())["status"] == "rejected"
    again = await client.post(f"{API}/registrations/{a['id']}/approve", headers=admin)
    assert again.status == 200 and (await again.json())["status"] == "confirmed"


async def test_organizer_list_json_and_csv_with_bom_scoped_to_their_events(
    client: TestClient, admin: dict[str, str]
) -> None:
    slug = await make_event(client)
    other = await make_event(client)
    for i in range(3):
        await client.post(f"{API}/events/{slug}/registrations", json=person(i, name=f"山田 {i}"))
    made = await client.post(
        f"{API}/organizers",
        headers=admin,
        json={"email": f"o-{slug}@city.test", "password": "long enough pw", "events": [slug]},
    )
    assert made.status == 201
    login = await client.post(
        f"{API}/auth/login", json={"email": f"o-{slug}@city.test", "password": "long enough pw"}
    )
    org = {"Authorization": f"Bearer {(await login.json())['token']}"}
    page = await (await client.get(f"{API}/events/{slug}/registrations", headers=org)).json()
    assert len(page["items"]) == 3 and page["next_cursor"] is None
    assert set(page["items"][0]) >= {
        "id",
        "status",
        "category",
        "name",
        "email",
        "phone",
        "language",
        "party_size",
        "waitlist_position",
        "created_at",
    }
    two = await (await client.get(f"{API}/events/{slug}/registrations?limit=2", headers=org)).json()
    rest = await (
        await client.get(
            f"{API}/events/{slug}/registrations?limit=2&cursor={two['next_cursor']}", headers=org
        )
    ).json()
    assert len(two["items"]) == 2 and len(rest["items"]) == 1
    csv = await client.get(
        f"{API}/events/{slug}/registrations", headers={**org, "Accept": "text/csv"}
    )
    raw = await csv.read()
    assert raw.startswith("\ufeff".encode()) and "山田 2".encode() in raw
    assert (await client.get(f"{API}/events/{other}/registrations", headers=org)).status == 403
    assert (await client.get(f"{API}/events/{slug}/registrations")).status == 401
    bad = await client.post(f"{API}/auth/login", json={"email": ADMIN[0], "password": "wrong"})
    assert bad.status == 401


async def test_events_list_shows_remaining_and_waitlist(client: TestClient) -> None:
    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=1))
    await client.post(f"{API}/events/{slug}/registrations", json=person(1))
    await client.post(f"{API}/events/{slug}/registrations", json=person(2))
    events = (await (await client.get(f"{API}/events")).json())["events"]
    mine = next(e for e in events if e["slug"] == slug)
    cat = mine["categories"][0]
    assert (
        cat["capacity"],
        cat["remaining"],
        cat["waitlist_length"],
        cat["registration_open"],
    ) == (1, 0, 1, True)


async def test_organizer_creates_an_event_through_the_api(
    client: TestClient, admin: dict[str, str]
) -> None:
    start = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    end = (datetime.now(UTC) + timedelta(days=40, hours=3)).isoformat()
    body = {
        "slug": "tax-seminar-test",
        "title": {"ja": "税と年金の講習会", "en": "Tax seminar"},
        "kind": "seminar",
        "venue": {"ja": "キュポ・ラ"},
        "starts_at": start,
        "ends_at": end,
        "categories": [
            {"code": "participant", "title": {"ja": "参加者"}, "capacity": 60, "max_party_size": 2}
        ],
    }
    r = await client.post(f"{API}/events", json=body, headers=admin)
    assert r.status == 201 and (await r.json())["categories"][0]["remaining"] == 60
    assert (await client.post(f"{API}/events", json=body, headers=admin)).status == 409
    assert (await client.post(f"{API}/events", json=body)).status == 401
    bad = await client.post(f"{API}/events", json={**body, "slug": "x y"}, headers=admin)
    assert bad.status == 422


async def test_device_pairing_once_then_gone_and_unknown_is_404(
    client: TestClient, admin: dict[str, str]
) -> None:
    slug = await make_event(client)
    made = await client.post(
        f"{API}/events/{slug}/devices",
        headers=admin,
        json={"role": "gate", "place": "east", "label": "East gate 1"},
    )
    assert made.status == 201
    code = (await made.json())["pairing_code"]
    paired = await client.post(f"{API}/devices/pair", json={"pairing_code": code.lower()})
    assert paired.status == 200
    token = await paired.json()
    assert (token["role"], token["event"], token["place"]) == ("gate", slug, "east")
    assert token["device_token"].startswith("D1.")
    assert (await client.post(f"{API}/devices/pair", json={"pairing_code": code})).status == 410
    assert (
        await client.post(f"{API}/devices/pair", json={"pairing_code": "ZZZZ9999"})
    ).status == 404
    listed = await (await client.get(f"{API}/events/{slug}/devices", headers=admin)).json()
    assert listed["items"][0]["state"] == "paired"
    device_id = listed["items"][0]["id"]
    assert (await client.post(f"{API}/devices/{device_id}/revoke", headers=admin)).status == 204
    listed = await (await client.get(f"{API}/events/{slug}/devices", headers=admin)).json()
    assert listed["items"][0]["state"] == "revoked"


async def test_rotated_keys_keep_old_tickets_valid_and_sign_new_ones(client: TestClient) -> None:
    from services.registration import service
    from tests.integration.regfixtures import rt

    slug = await make_event(client)
    old = await (await client.post(f"{API}/events/{slug}/registrations", json=person(1))).json()
    ring = service.keyring(rt(client))
    before = ring.active.kid_text
    ring.rotate()
    new = await (await client.post(f"{API}/events/{slug}/registrations", json=person(2))).json()
    keys = (await (await client.get(f"{API}/keys")).json())["keys"]
    assert len(keys) == 2
    public = {b64url_decode(k["kid"]): public_key_from_raw(k["public_key"]) for k in keys}
    assert verify_ticket(old["ticket"]["qr_text"], public).kid == b64url_decode(before)
    assert verify_ticket(new["ticket"]["qr_text"], public).kid != b64url_decode(before)
    ring.retire(before)
    keys = (await (await client.get(f"{API}/keys")).json())["keys"]
    public = {b64url_decode(k["kid"]): public_key_from_raw(k["public_key"]) for k in keys}
    with pytest.raises(InvalidTicket):
        verify_ticket(old["ticket"]["qr_text"], public)


async def test_raising_capacity_promotes_the_waiting_list(
    client: TestClient, admin: dict[str, str]
) -> None:
    from dataclasses import replace

    from services.registration import repository, service
    from tests.integration.regfixtures import rt

    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=1))
    await client.post(f"{API}/events/{slug}/registrations", json=person(1))
    waiting = await (await client.post(f"{API}/events/{slug}/registrations", json=person(2))).json()
    assert waiting["status"] == "waitlisted"
    event = await repository.load_event(rt(client).pool, slug)
    assert event is not None
    bigger = replace(event, categories=(replace(event.categories[0], capacity=2),))
    await service.save_event(rt(client), bigger)
    mine = await client.get(
        f"{API}/registrations/{waiting['id']}", headers={"X-Registration-Secret": waiting["secret"]}
    )
    assert (await mine.json())["status"] == "confirmed"
    smaller = replace(event, categories=(replace(event.categories[0], capacity=1),))
    with pytest.raises(Conflict) as exc:
        await service.save_event(rt(client), smaller)
    assert exc.value.code == "capacity_below_confirmed"


async def test_rate_limits_answer_429_with_retry_after(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async for c in running_registration(
        make_settings, tmp_path_factory.mktemp("rl"), rate_limit=True
    ):
        statuses = []
        for _ in range(15):
            r = await c.post(f"{API}/auth/login", json={"email": "x@y.z", "password": "nope"})
            statuses.append(r.status)
            if r.status == 429:
                assert int(r.headers["Retry-After"]) >= 1
                assert (await r.json())["code"] == "rate_limited"
        assert statuses[0] == 401 and 429 in statuses


async def test_a_category_with_registrations_cannot_be_removed(client: TestClient) -> None:
    from dataclasses import replace

    from services.registration import repository, service
    from tests.integration.regfixtures import rt

    slug = await make_event(
        client,
        Category(code="visitor", title={"ja": "来場者"}, capacity=5),
        Category(code="other", title={"ja": "その他"}, capacity=5),
    )
    await client.post(f"{API}/events/{slug}/registrations", json=person(1))
    event = await repository.load_event(rt(client).pool, slug)
    assert event is not None
    with pytest.raises(Conflict) as exc:
        await service.save_event(rt(client), replace(event, categories=event.categories[1:]))
    assert exc.value.code == "category_in_use"
    # Removing the unused one is fine.
    await service.save_event(rt(client), replace(event, categories=event.categories[:1]))


async def test_a_place_freed_while_the_category_looked_full_is_still_given_with_a_ticket(
    client: TestClient,
) -> None:
    slug = await make_event(client, Category(code="visitor", title={"ja": "来場者"}, capacity=1))
    a = await (await client.post(f"{API}/events/{slug}/registrations", json=person(1))).json()
    b = await (await client.post(f"{API}/events/{slug}/registrations", json=person(2))).json()
    assert (a["status"], b["status"]) == ("confirmed", "waitlisted")  # the category is full
    for r in (b, a):
        await client.post(
            f"{API}/registrations/{r['id']}/cancel", headers={"X-Registration-Secret": r["secret"]}
        )
    c = await (await client.post(f"{API}/events/{slug}/registrations", json=person(3))).json()
    assert c["status"] == "confirmed" and c["ticket"]["qr_text"].startswith("T1.")
