"""The shared HTTP edge on a real aiohttp server: problem+json in the caller's language,
body limit, malformed JSON, field errors with dotted names, correlation ids, 503 when a
dependency is down, no leak of internals on a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from shared.http import json_response, new_app, parse_body


class Answers(BaseModel):
    nationality: str = Field(max_length=20)


class Body(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    answers: Answers


async def create(request: web.Request) -> web.StreamResponse:
    body = await parse_body(request, Body)
    return json_response({"name": body.name}, status=201)


async def boom(request: web.Request) -> web.StreamResponse:
    raise RuntimeError("secret internal detail")


async def db_down(request: web.Request) -> web.StreamResponse:
    raise ConnectionRefusedError("connection refused")


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    app = new_app(max_body_bytes=2048)
    app.router.add_post("/api/test/things", create)
    app.router.add_get("/api/test/boom", boom)
    app.router.add_get("/api/test/db", db_down)
    c = TestClient(TestServer(app))
    await c.start_server()
    yield c
    await c.close()


async def test_valid_body_is_accepted(client: TestClient) -> None:
    r = await client.post(
        "/api/test/things", json={"name": "Ana", "answers": {"nationality": "PH"}}
    )
    assert r.status == 201 and (await r.json()) == {"name": "Ana"}


async def test_body_over_the_limit_is_413(client: TestClient) -> None:
    r = await client.post(
        "/api/test/things", data=b"x" * 4096, headers={"Content-Type": "application/json"}
    )
    assert r.status == 413 and (await r.json())["code"] == "payload_too_large"


async def test_malformed_json_is_400_problem(client: TestClient) -> None:
    r = await client.post(
        "/api/test/things", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    assert r.headers["Content-Type"].startswith("application/problem+json")


async def test_field_errors_have_dotted_names_and_speak_the_callers_language(
    client: TestClient,
) -> None:
    r = await client.post(
        "/api/test/things",
        json={"name": "", "answers": {"nationality": "x" * 50}},
        headers={"Accept-Language": "ja"},
    )
    assert r.status == 422
    body = await r.json()
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"name", "answers.nationality"}
    assert fields["answers.nationality"]["code"] == "too_long"
    assert all(ord(ch) > 0x3000 for ch in body["title"][:2])  # Japanese text
    en = await (
        await client.post("/api/test/things", json={}, headers={"Accept-Language": "en"})
    ).json()
    assert en["title"] == "Some of the information is not valid. Please check it."
    assert {e["field"] for e in en["errors"]} == {"name", "answers"}


async def test_correlation_id_is_echoed_or_made(client: TestClient) -> None:
    r = await client.post("/api/test/things", json={}, headers={"Correlation-Id": "abc-123"})
    assert (
        r.headers["Correlation-Id"] == "abc-123" and (await r.json())["correlation_id"] == "abc-123"
    )
    r = await client.post(
        "/api/test/things", json={}, headers={"Correlation-Id": "bad id <script>"}
    )
    assert (
        r.headers["Correlation-Id"] != "bad id <script>" and len(r.headers["Correlation-Id"]) == 36
    )


async def test_unhandled_error_is_500_without_internals(client: TestClient) -> None:
    r = await client.get("/api/test/boom")
    assert r.status == 500
    assert "secret" not in await r.text()


async def test_dependency_down_is_503_with_retry_after(client: TestClient) -> None:
    r = await client.get("/api/test/db")
    assert r.status == 503 and r.headers["Retry-After"].isdigit()


async def test_security_headers_on_every_response(client: TestClient) -> None:
    r = await client.get("/api/test/boom")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
