"""An organizer answers a person's personal-data request from the console: "Export data"
downloads what registration holds about them (a file no cache keeps), and "Erase data"
asks first (saying what goes, that an active registration is cancelled and its place
given to the waiting list, and that it cannot be undone), then erases on a POST that
carries the console's CSRF token and goes back to the list with a notice. An organizer
of another event gets the 403 page and changes nothing; an unknown id gets the 404 page.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.registration import privacy
from services.registration.domain import Category, Choice, FormField
from tests.integration.regfixtures import make_event, person, running_registration

API = "/api/registration"
PASSWORD = "console privacy organizer password"


@pytest.fixture(scope="module")
async def reg(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("cprivacy")):
        yield c


@pytest.fixture(autouse=True)
def no_remembered_cookies(reg: TestClient) -> None:
    """Each request says who it is with its own Cookie header: the client's jar must not
    carry another organizer's session (or language) into it."""
    reg.session.cookie_jar.clear()


def visitors(capacity: int) -> Category:
    return Category(
        code="visitor",
        title={"ja": "来場者", "en": "Visitor"},
        capacity=capacity,
        fields=(
            FormField(key="message", type="text", label={"en": "Message"}),
            FormField(
                key="interpreter",
                type="choice",
                label={"en": "Interpreter"},
                choices=(Choice("none", {"en": "No"}), Choice("vi", {"en": "Vietnamese"})),
            ),
        ),
    )


async def register(reg: TestClient, slug: str, i: int) -> dict[str, Any]:
    body = person(
        i,
        email=f"cprivacy{i}-{uuid.uuid4().hex[:6]}@example.org",
        phone=f"+8190{33450000 + i}",
        answers={"message": f"I am Tran Van {i}", "interpreter": "vi"},
    )
    r = await reg.post(
        f"{API}/events/{slug}/registrations",
        json=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status == 201, await r.text()
    made: dict[str, Any] = await r.json()
    made["email"] = body["email"]
    return made


async def organizer_of(reg: TestClient, admin: dict[str, str], slug: str) -> dict[str, str]:
    """A new organizer of ``slug`` only, logged in to the console like a browser: the
    login form's CSRF cookie and field, then the session cookie. Returns the headers
    their later requests carry (English pages)."""
    email = f"org-{uuid.uuid4().hex[:8]}@example.org"
    made = await reg.post(
        f"{API}/organizers",
        json={"email": email, "password": PASSWORD, "events": [slug]},
        headers=admin,
    )
    assert made.status == 201, await made.text()
    form = await reg.get("/console/login")
    token = form.cookies["tomoni_login_csrf"].value
    r = await reg.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf": token},
        headers={"Cookie": f"tomoni_login_csrf={token}"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    session = r.cookies["tomoni_session"].value
    reg.session.cookie_jar.clear()
    return {"Cookie": f"tomoni_session={session}; tomoni_lang=en"}


async def csrf_of(reg: TestClient, org: dict[str, str], path: str) -> str:
    """The CSRF token the page's form carries (the session's)."""
    page = await reg.get(path, headers=org)
    assert page.status == 200, await page.text()
    found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found is not None
    return found.group(1)


async def row_of(db: asyncpg.Pool, reg_id: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT * FROM registration.registrations WHERE id = $1", uuid.UUID(reg_id)
    )
    assert row is not None
    return row


async def what_remains(db: asyncpg.Pool, reg_id: str) -> list[str]:
    """What an erasure should have removed and is still there (empty when it worked)."""
    row = await row_of(db, reg_id)
    answers = json.loads(row["answers"]) if isinstance(row["answers"], str) else row["answers"]
    remains = []
    for column in ("name_kana", "email", "phone"):
        if row[column] is not None:
            remains.append(column)
    if row["name"] != "":
        remains.append("name")
    if "message" in answers:
        remains.append("free-text answer")
    if row["status"] != "cancelled":
        remains.append(f"status {row['status']}")
    if row["erased_at"] is None:
        remains.append("not marked erased")
    return remains


async def erase_from_console(reg: TestClient, org: dict[str, str], reg_id: str, back: str) -> str:
    """Open the confirmation page from the list, post its form; the redirect's target."""
    page = f"/console/registrations/{reg_id}/erase"
    csrf = await csrf_of(reg, org, f"{page}?back={back}")
    r = await reg.post(page, data={"csrf": csrf, "back": back}, headers=org, allow_redirects=False)
    assert r.status == 303, await r.text()
    return r.headers["Location"]


async def test_the_list_links_each_registration_to_export_and_erase(
    reg: TestClient, admin: dict[str, str]
) -> None:
    slug = await make_event(reg, visitors(capacity=5))
    person_ = await register(reg, slug, 1)
    org = await organizer_of(reg, admin, slug)
    html = await (await reg.get(f"/console/events/{slug}", headers=org)).text()
    assert f'href="/console/registrations/{person_["id"]}/export" download>Export data' in html
    assert f'href="/console/registrations/{person_["id"]}/erase?back=' in html
    assert "Erase data" in html


async def test_export_downloads_the_persons_data_as_a_file_no_cache_keeps(
    reg: TestClient, admin: dict[str, str]
) -> None:
    slug = await make_event(reg, visitors(capacity=5))
    person_ = await register(reg, slug, 2)
    org = await organizer_of(reg, admin, slug)

    r = await reg.get(f"/console/registrations/{person_['id']}/export", headers=org)
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="registration-{person_["id"]}.json"'
    )
    assert r.headers["Cache-Control"] == "no-store"
    data = json.loads(await r.text())
    assert data["id"] == person_["id"]
    assert data["email"] == person_["email"]
    assert data["answers"]["message"] == "I am Tran Van 2"


async def test_erasing_asks_first_then_cancels_gives_the_place_on_and_empties_the_row(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool
) -> None:
    slug = await make_event(reg, visitors(capacity=1))
    first = await register(reg, slug, 3)
    waiting = await register(reg, slug, 4)
    assert (first["status"], waiting["status"]) == ("confirmed", "waitlisted")
    org = await organizer_of(reg, admin, slug)

    page = await reg.get(f"/console/registrations/{first['id']}/erase", headers=org)
    html = await page.text()
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Erase this person&#39;s data?" in html
    assert "name in kana, email address, phone number and free-text answers" in html
    assert "cancelled first: its places go to the next people on the waiting list" in html
    assert "This cannot be undone." in html
    assert (await row_of(db, first["id"]))["email"] == first["email"]  # asking erased nothing

    back = f"/console/events/{slug}?status=confirmed"
    location = await erase_from_console(reg, org, first["id"], back)
    assert location == f"/console/events/{slug}?status=confirmed&notice=erased"
    assert await what_remains(db, first["id"]) == []
    assert (await row_of(db, waiting["id"]))["status"] == "confirmed"

    listed = await (await reg.get(location, headers=org)).text()
    assert "The person&#39;s data was erased." in listed
    exported = await reg.get(f"/console/registrations/{first['id']}/export", headers=org)
    assert json.loads(await exported.text())["email"] is None
    again = await (await reg.get(f"/console/registrations/{first['id']}/erase", headers=org)).text()
    assert "already been erased" in again and 'method="post"' not in again.split("<main")[-1]


async def test_the_pages_speak_japanese_to_a_japanese_organizer(
    reg: TestClient, admin: dict[str, str]
) -> None:
    slug = await make_event(reg, visitors(capacity=5))
    person_ = await register(reg, slug, 5)
    org = await organizer_of(reg, admin, slug)
    ja = {"Cookie": org["Cookie"].replace("tomoni_lang=en", "tomoni_lang=ja")}
    html = await (await reg.get(f"/console/registrations/{person_['id']}/erase", headers=ja)).text()
    assert "この方のデータを消去しますか？" in html
    assert "この操作は取り消せません。" in html
    assert "はい、消去します" in html


async def test_an_organizer_of_another_event_can_neither_export_nor_erase(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool
) -> None:
    slug = await make_event(reg, visitors(capacity=5))
    person_ = await register(reg, slug, 6)
    stranger = await organizer_of(reg, admin, await make_event(reg, visitors(capacity=5)))
    page = f"/console/registrations/{person_['id']}"
    before = await row_of(db, person_["id"])

    exported = await reg.get(f"{page}/export", headers=stranger)
    assert exported.status == 403
    assert person_["email"] not in await exported.text()
    assert (await reg.get(f"{page}/erase", headers=stranger)).status == 403
    # Their own session's token, so only the event permission can refuse it.
    csrf = await csrf_of(reg, stranger, "/console/")
    erased = await reg.post(
        f"{page}/erase", data={"csrf": csrf}, headers=stranger, allow_redirects=False
    )
    assert erased.status == 403
    assert await row_of(db, person_["id"]) == before


async def test_unknown_ids_get_the_not_found_page(reg: TestClient, admin: dict[str, str]) -> None:
    org = await organizer_of(reg, admin, await make_event(reg, visitors(capacity=5)))
    csrf = await csrf_of(reg, org, "/console/")
    for rid in (str(uuid.uuid4()), "not-an-id"):
        page = f"/console/registrations/{rid}"
        assert (await reg.get(f"{page}/export", headers=org)).status == 404
        assert (await reg.get(f"{page}/erase", headers=org)).status == 404
        r = await reg.post(f"{page}/erase", data={"csrf": csrf}, headers=org)
        assert r.status == 404


async def test_an_erase_without_the_csrf_token_is_refused_and_changes_nothing(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool
) -> None:
    slug = await make_event(reg, visitors(capacity=5))
    person_ = await register(reg, slug, 7)
    org = await organizer_of(reg, admin, slug)
    page = f"/console/registrations/{person_['id']}/erase"
    before = await row_of(db, person_["id"])

    for form in ({}, {"csrf": "forged"}):
        r = await reg.post(page, data=form, headers=org, allow_redirects=False)
        assert r.status == 403
        assert "This form has expired" in await r.text()
    assert await row_of(db, person_["id"]) == before


async def test_control_an_erase_that_does_nothing_is_caught(
    reg: TestClient, admin: dict[str, str], db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks above can fail: with the erasure switched off (the console still
    answers as if it had worked), what_remains reports the person's data."""
    slug = await make_event(reg, visitors(capacity=5))
    person_ = await register(reg, slug, 8)
    org = await organizer_of(reg, admin, slug)

    async def erase_nothing(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(privacy, "erase", erase_nothing)
    await erase_from_console(reg, org, person_["id"], f"/console/events/{slug}")
    remains = await what_remains(db, person_["id"])
    assert {"name", "email", "phone", "free-text answer", "not marked erased"} <= set(remains)
