"""The "Delete my data" pages of one registration, over HTTP like a phone: the ticket page
links to a confirmation page that says what goes and what the city keeps (in the
attendee's language, Japanese with furigana), and only its POST erases — cancelling an
active registration (the place goes to the next in line), emptying the name, contact
and free-text answers, and killing the link, so the answer is a final page rather than
a redirect. A wrong secret gets the 404 page and changes nothing, as with cancelling."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.registration import privacy
from services.registration.domain import Category, Choice, FormField
from tests.integration.regfixtures import make_event, person, running_registration

API = "/api/registration"
# "Your data … delete" in easy Japanese, as the headings of both pages begin.
DELETE_YOUR_DATA_JA = "あなたの<ruby>情報<rt>じょうほう</rt></ruby>を<ruby>消<rt>け</rt></ruby>"


@pytest.fixture(scope="module")
async def client(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("erase")):
        yield c


@pytest.fixture(autouse=True)
def no_remembered_language(client: TestClient) -> None:
    """A ``?lang=`` of another test must not choose this test's language (the cookie)."""
    client.session.cookie_jar.clear()


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


async def register(client: TestClient, slug: str, i: int) -> dict[str, Any]:
    """Registers through the API; adds ``page`` (the capability URL) and the email sent."""
    body = person(
        i,
        email=f"erase-page{i}-{uuid.uuid4().hex[:6]}@example.org",
        phone=f"+8190{22340000 + i}",
        answers={"message": f"I am Tran Van {i}", "interpreter": "vi"},
    )
    r = await client.post(
        f"{API}/events/{slug}/registrations",
        json=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status == 201, await r.text()
    made: dict[str, Any] = await r.json()
    made["page"] = f"/events/r/{made['id']}/{made['secret']}"
    made["email"] = body["email"]
    return made


async def row_of(db: asyncpg.Pool, reg: dict[str, Any]) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT * FROM registration.registrations WHERE id = $1", uuid.UUID(reg["id"])
    )
    assert row is not None
    return row


async def what_remains(client: TestClient, db: asyncpg.Pool, reg: dict[str, Any]) -> list[str]:
    """What an erasure should have removed and is still there (empty when it worked)."""
    row = await row_of(db, reg)
    answers = json.loads(row["answers"]) if isinstance(row["answers"], str) else row["answers"]
    remains = []
    if row["name"] != "":
        remains.append("name")
    if row["email"] is not None:
        remains.append("email")
    if row["phone"] is not None:
        remains.append("phone")
    if "message" in answers:
        remains.append("free-text answer")
    if row["status"] != "cancelled":
        remains.append(f"status {row['status']}")
    if row["erased_at"] is None:
        remains.append("not marked erased")
    for method, path in (("GET", reg["page"]), ("GET", f"{reg['page']}/erase")):
        if (await client.request(method, path)).status != 404:
            remains.append(f"{method} {path} still answers")
    return remains


async def test_the_ticket_page_links_to_delete_my_data_in_every_status(
    client: TestClient,
) -> None:
    slug = await make_event(client, visitors(capacity=5))
    reg = await register(client, slug, 1)
    html = await (await client.get(f"{reg['page']}?lang=en")).text()
    # A plain link below the red "Cancel" button: there, but not the first thing seen.
    assert f'<a class="more" href="{reg["page"]}/erase">Delete my data</a>' in html
    assert html.index("Cancel this registration") < html.index("Delete my data")

    cancelled = await client.post(f"{reg['page']}/cancel", allow_redirects=False)
    assert cancelled.status == 303
    html = await (await client.get(f"{reg['page']}?lang=en")).text()
    assert "This registration is cancelled." in html
    # A cancelled registration still holds the person's data: it can still be deleted.
    assert f'href="{reg["page"]}/erase"' in html


async def test_the_confirmation_page_says_what_is_deleted_in_japanese_and_english(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client, visitors(capacity=5))
    reg = await register(client, slug, 2)

    r = await client.get(f"{reg['page']}/erase?lang=ja")
    assert r.status == 200
    assert r.headers["Cache-Control"] == "no-store"
    ja = await r.text()
    assert '<html lang="ja">' in ja
    assert f"<h1>{DELETE_YOUR_DATA_JA}しますか？</h1>" in ja
    for words in (
        "メールアドレス、<ruby>電話番号<rt>でんわばんごう</rt></ruby>",  # what goes
        "<ruby>統計<rt>とうけい</rt></ruby>",  # what the city keeps
        "キャンセルになります",  # it is still active, so it is cancelled too
        "<ruby>元<rt>もと</rt></ruby>に<ruby>戻<rt>もど</rt></ruby>すことはできません",
        "はい、<ruby>消<rt>け</rt></ruby>します",
        "多文化ふれあいフェスタ",
        "Tran Van 2",
    ):
        assert words in ja, words

    r = await client.get(f"{reg['page']}/erase?lang=en")
    assert r.status == 200
    en = await r.text()
    assert '<html lang="en">' in en
    for words in (
        "<h1>Delete your data?</h1>",
        "We will delete your name, email address, phone number and the answers you wrote",
        "The city keeps only numbers without names, for its statistics.",
        "Your registration will also be cancelled.",
        "the next person on the waiting list",
        "After this, the link to your registration will no longer work.",
        "You cannot undo this.",
        f'<form method="post" action="{reg["page"]}/erase"',
        "Yes, delete my data",
        f'<a class="button secondary" href="{reg["page"]}">No, keep my data</a>',
    ):
        assert words in en, words

    # Showing the page deletes nothing.
    row = await row_of(db, reg)
    assert (row["name"], row["status"], row["erased_at"]) == ("Tran Van 2", "confirmed", None)


async def test_a_cancelled_registration_is_not_told_it_will_be_cancelled(
    client: TestClient,
) -> None:
    slug = await make_event(client, visitors(capacity=5))
    reg = await register(client, slug, 3)
    await client.post(f"{reg['page']}/cancel", allow_redirects=False)
    en = await (await client.get(f"{reg['page']}/erase?lang=en")).text()
    assert "<h1>Delete your data?</h1>" in en
    assert "will also be cancelled" not in en and "waiting list" not in en


async def test_deleting_erases_the_data_cancels_and_kills_the_link(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client, visitors(capacity=1))
    first = await register(client, slug, 4)
    second = await register(client, slug, 5)
    assert (first["status"], second["status"]) == ("confirmed", "waitlisted")
    assert await what_remains(client, db, first)  # before: everything is there

    r = await client.post(f"{first['page']}/erase?lang=en", allow_redirects=False)
    assert r.status == 200  # a page of its own: a redirect would land on the dead link
    assert r.headers["Cache-Control"] == "no-store"
    done = await r.text()
    assert "<h1>Your data has been deleted.</h1>" in done
    assert "This registration is cancelled." in done
    assert "The link to your registration no longer works." in done
    assert "Tran Van 4" not in done and first["page"] not in done

    assert await what_remains(client, db, first) == []
    row = await row_of(db, first)
    answers = json.loads(row["answers"]) if isinstance(row["answers"], str) else row["answers"]
    assert answers == {"interpreter": "vi"}  # counted, names no one
    # The place went to the next in line, as with any cancellation.
    assert (await row_of(db, second))["status"] == "confirmed"
    # The old link is dead for every page of the registration, the POST included.
    for method, path in (
        ("POST", f"{first['page']}/erase"),
        ("POST", f"{first['page']}/cancel"),
        ("GET", f"{first['page']}/ticket.png"),
    ):
        assert (await client.request(method, path, allow_redirects=False)).status == 404, path


async def test_the_final_page_speaks_japanese_with_furigana(client: TestClient) -> None:
    slug = await make_event(client, visitors(capacity=5))
    reg = await register(client, slug, 6)
    r = await client.post(f"{reg['page']}/erase?lang=ja", allow_redirects=False)
    assert r.status == 200
    ja = await r.text()
    assert '<html lang="ja">' in ja
    assert f"<h1>{DELETE_YOUR_DATA_JA}しました。</h1>" in ja
    assert "もう<ruby>使<rt>つか</rt></ruby>えません" in ja


async def test_a_wrong_secret_or_id_is_the_404_page_and_deletes_nothing(
    client: TestClient, db: asyncpg.Pool
) -> None:
    slug = await make_event(client, visitors(capacity=5))
    reg = await register(client, slug, 7)
    wrong = [
        f"/events/r/{reg['id']}/{reg['secret'][:-4]}xxxx/erase",
        f"/events/r/{reg['id']}/not-the-secret/erase",
        f"/events/r/{uuid.uuid4()}/{reg['secret']}/erase",
        f"/events/r/not-a-uuid/{reg['secret']}/erase",
    ]
    for path in wrong:
        for method in ("GET", "POST"):
            r = await client.request(method, f"{path}?lang=en", allow_redirects=False)
            assert r.status == 404, (method, path)
            assert "Page not found" in await r.text()
    row = await row_of(db, reg)
    assert (row["name"], row["email"], row["status"], row["erased_at"]) == (
        "Tran Van 7",
        reg["email"],
        "confirmed",
        None,
    )
    assert (await client.get(reg["page"])).status == 200  # the right link still works


async def test_control_a_page_that_does_not_erase_is_caught(
    client: TestClient, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks above can fail: with the erasure switched off, the page still says
    "deleted", and ``what_remains`` names everything that stayed."""

    async def erases_nothing(rt: Any, reg_id: uuid.UUID, *, by: str) -> datetime:
        return datetime.now().astimezone()

    monkeypatch.setattr(privacy, "erase", erases_nothing)
    slug = await make_event(client, visitors(capacity=5))
    reg = await register(client, slug, 8)
    r = await client.post(f"{reg['page']}/erase?lang=en", allow_redirects=False)
    assert "Your data has been deleted." in await r.text()  # a page alone proves nothing
    remains = await what_remains(client, db, reg)
    assert {"name", "email", "phone", "free-text answer", "status confirmed"} <= set(remains)
    assert f"GET {reg['page']} still answers" in remains
