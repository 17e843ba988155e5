"""A running registration service for the API tests, and helpers to make events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from services.registration import service
from services.registration.app import create_app
from services.registration.domain import Category, EventDraft, FormField
from services.registration.settings import RegistrationSettings
from shared.ids import uuid7
from shared.runtime import RUNTIME, Runtime

ADMIN = ("admin@tomoni.test", "correct horse battery staple")


async def running_registration(
    make_settings: Any, tmp: Any, **overrides: Any
) -> AsyncIterator[TestClient]:
    settings = make_settings(
        RegistrationSettings,
        data_dir=tmp,
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        **{"rate_limit": False, "db_pool_max": 20, **overrides},
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()


def rt(client: TestClient) -> Runtime:
    return client.server.app[RUNTIME]


def new_slug(prefix: str = "ev") -> str:
    return f"{prefix}-{uuid7().hex[-10:]}"


async def make_event(
    client: TestClient, *categories: Category, slug: str | None = None, **changes: Any
) -> str:
    slug = slug or new_slug()
    start = datetime.now(UTC) + timedelta(days=30)
    draft = EventDraft(
        slug=slug,
        kind="fair",
        title={"ja": "多文化ふれあいフェスタ", "en": "Multicultural Fair"},
        venue={"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
        starts_at=start,
        ends_at=start + timedelta(hours=6),
        categories=categories or (Category(code="visitor", title={"ja": "来場者"}, capacity=50),),
        **changes,
    )
    await service.save_event(rt(client), draft)
    return slug


def person(i: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "visitor",
        "name": f"Tran Van {i}",
        "email": f"person{i}@example.org",
        "language": "vi",
        "party_size": 1,
    }
    body.update(extra)
    return body


__all__ = [
    "ADMIN",
    "Category",
    "FormField",
    "make_event",
    "new_slug",
    "person",
    "rt",
    "running_registration",
]
