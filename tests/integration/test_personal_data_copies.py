"""When registration erases a person, checkin and stamprally forget the name they show
volunteers, in their ticket copies and in the stored answers a retried scan gets."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.testing import wait_until
from tests.e2e.scanner_support.stack import CHK, REG, Stack, running_stack


@pytest.fixture(scope="module")
async def stack(
    make_settings: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(
        make_settings, database_url, tmp_path_factory.mktemp("reg"), stamprally=True
    ) as s:
        yield s


async def names_shown(stack: Stack, ticket_id: str) -> list[str]:
    """Where checkin or stamprally still hold the attendee's display name."""
    tid = uuid.UUID(ticket_id)
    found = []
    for table in ("checkin.tickets", "stamprally.tickets"):
        if await stack.db.fetchval(f"SELECT display_name FROM {table} WHERE id = $1", tid):
            found.append(table)
    responses = await stack.db.fetch("SELECT response FROM checkin.scans WHERE ticket_id = $1", tid)
    if any("display_name" in json.loads(r["response"]).get("attendee", {}) for r in responses):
        found.append("checkin.scans")
    return found


async def test_an_erased_person_disappears_from_the_gates_and_the_booths(stack: Stack) -> None:
    slug = await stack.event()
    ticket = await stack.ticket(slug, "Nguyen Thi Mai")
    await stack.rally_knows(ticket_id=ticket["id"])
    gate = await stack.pairing(slug, "north")
    r = await stack.client.post(f"{REG}/devices/pair", json={"pairing_code": gate["pairing_code"]})
    token = f"Bearer {(await r.json())['device_token']}"
    await stack.device_known(gate["device_id"])
    scan = {"client_scan_id": "s1", "qr_text": ticket["qr_text"], "direction": "in"}
    r = await stack.client.post(f"{CHK}/scans", json=scan, headers={"Authorization": token})
    assert (await r.json())["attendee"]["display_name"]
    assert await names_shown(stack, ticket["id"]) == [
        "checkin.tickets",
        "stamprally.tickets",
        "checkin.scans",
    ]  # the control: before the erasure, all three hold it

    reg_id = await stack.db.fetchval(
        "SELECT registration_id FROM registration.tickets WHERE id = $1",
        uuid.UUID(ticket["id"]),
    )
    r = await stack.client.post(f"{REG}/registrations/{reg_id}/erase", headers=stack.admin)
    assert r.status == 200

    async def forgotten() -> bool:
        return await names_shown(stack, ticket["id"]) == []

    await wait_until(forgotten, timeout=15, message="checkin and stamprally forgot the name")
    # A retried scan gets its first answer back, without the name.
    r = await stack.client.post(f"{CHK}/scans", json=scan, headers={"Authorization": token})
    answer = await r.json()
    assert answer["result"] == "admitted" and "display_name" not in answer.get("attendee", {})
