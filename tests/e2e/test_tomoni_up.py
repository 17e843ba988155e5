"""``tomoni up`` as a newcomer runs it: embedded servers, every service ready, demo events
flowing over the bus, a clean stop that leaves no process behind, data kept."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import date
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from services.registration.demo import demo_events
from shared.testing import wait_until
from tests.e2e.procs import TOMONI, free_port, ready, spawn, stop, wait_gone


def children_of(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


async def read_model_counts(data_dir: Path) -> dict[str, int]:
    info = json.loads((data_dir / "runtime.json").read_text())
    conn = await asyncpg.connect(info["database_url"])
    try:
        return {
            s: await conn.fetchval(f"SELECT count(*) FROM {s}.events")
            for s in ("registration", "checkin", "stamprally", "notify")
        }
    finally:
        await conn.close()


async def test_up_gets_ready_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    env = {"TOMONI_DATA_DIR": str(data), "TOMONI_HTTP_PORT": str(port)}
    expected = len(demo_events(date.today()))

    proc = spawn(["up"], env, tmp_path / "up1.log")
    try:
        body = await ready(port)
        assert set(body["services"]) == {"registration", "checkin", "stamprally", "notify"}  # type: ignore[call-overload]
        kids = children_of(proc.pid)
        names = {k.name() for k in kids}
        assert {"postgres", "nats-server"} <= names, names
        # The demo programme reaches every service's read model over the bus.
        await wait_until(
            lambda: _all_equal(data, expected),
            timeout=20,
            message="demo events in every read model",
        )
        # The demo's stamp rallies (the Multicultural Fair's and the volunteer fair's).
        info = json.loads((data / "runtime.json").read_text())
        conn = await asyncpg.connect(info["database_url"])
        try:
            await wait_until(
                lambda: _count(conn, "SELECT count(*) FROM stamprally.rallies", 2),
                timeout=20,
                message="the demo rallies",
            )
            assert await conn.fetchval("SELECT count(*) FROM stamprally.booths") == 28
        finally:
            await conn.close()
        # With no TOMONI_SMTP_URL, the ticket email lands in the data folder's mailbox.
        await register_somewhere(port, "mailbox-check@example.org")
        eml = await wait_until(
            lambda: [
                p for p in (data / "mail").glob("*.eml") if b"mailbox-check" in p.read_bytes()
            ],
            timeout=20,
            message="the ticket email in the local mailbox",
        )
        assert len(eml) == 1
        assert stop(proc, signal.SIGTERM) == 0
        assert wait_gone([k.pid for k in kids]) == [], "a child outlived tomoni up"
    finally:
        if proc.poll() is None:
            proc.kill()

    # A second start on the same folder: same data, nothing seeded twice.
    proc = spawn(["up"], env, tmp_path / "up2.log")
    try:
        await ready(port)
        info = json.loads((data / "runtime.json").read_text())
        conn = await asyncpg.connect(info["database_url"])
        try:
            revisions = await conn.fetch("SELECT revision FROM registration.events")
            assert [r["revision"] for r in revisions] == [1] * expected
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM registration.outbox WHERE event_type = 'event.published'"
                )
                == expected
            )
        finally:
            await conn.close()
        assert (await read_model_counts(data))["checkin"] == expected
        kids = children_of(proc.pid)
        assert stop(proc, signal.SIGINT) == 0
        assert wait_gone([k.pid for k in kids]) == []
    finally:
        if proc.poll() is None:
            proc.kill()


async def _count(conn: asyncpg.Connection, sql: str, expected: int) -> bool:
    return bool(await conn.fetchval(sql) == expected)


async def register_somewhere(port: int, email: str) -> None:
    """Register for the first demo category open to anyone (no screening)."""
    base = f"http://127.0.0.1:{port}/api/registration"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/events") as r:
            events = (await r.json())["events"]
        for event in events:
            for category in event["categories"]:
                if category["registration_open"] and category["remaining"] > 0:
                    required = [f for f in category.get("fields", []) if f["required"]]
                    if category.get("review") or required:
                        continue
                    async with http.post(
                        f"{base}/events/{event['slug']}/registrations",
                        json={
                            "category": category["code"],
                            "name": "Mailbox Check",
                            "email": email,
                            "language": "en",
                            "party_size": 1,
                        },
                    ) as made:
                        if made.status == 201:
                            return
    raise AssertionError("no demo category took a registration")


async def _all_equal(data: Path, expected: int) -> bool:
    counts = await read_model_counts(data)
    return all(v == expected for v in counts.values())


async def test_a_killed_tomoni_up_takes_its_embedded_servers_with_it(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "TOMONI_DATA_DIR": str(tmp_path / "d"),
        "TOMONI_HTTP_PORT": str(port),
        "TOMONI_DEMO": "0",
    }
    proc = spawn(["up"], env, tmp_path / "up.log")
    try:
        await ready(port)
        kids = children_of(proc.pid)
        proc.kill()  # SIGKILL: no chance to clean up
        proc.wait(10)
        assert wait_gone([k.pid for k in kids]) == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_malformed_setting_stops_start_up_with_one_line_naming_it(tmp_path: Path) -> None:
    env = {"TOMONI_HTTP_PORT": "eighty", "TOMONI_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [TOMONI, "up"], env={**_base_env(), **env}, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "TOMONI_HTTP_PORT" in lines[0], out.stderr


def test_serve_without_servers_says_which_variables_are_missing() -> None:
    out = subprocess.run(
        [TOMONI, "serve", "checkin"], env=_base_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "TOMONI_DATABASE_URL" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("TOMONI_")}
