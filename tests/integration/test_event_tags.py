"""Two events never share the 4-byte tag their tickets carry: a gate admits a well-signed
ticket of its event before it has heard of it, so a shared tag would let each event's
tickets in at the other."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from shared.errors import ValidationFailed
from shared.security import event_tag
from tests.integration.regfixtures import make_event, running_registration


@pytest.fixture(scope="module")
async def client(
    make_settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestClient]:
    async for c in running_registration(make_settings, tmp_path_factory.mktemp("reg")):
        yield c


def colliding_slugs() -> tuple[str, str]:
    """Two valid slugs with the same tag (a birthday search: ~100,000 hashes)."""
    seen: dict[bytes, str] = {}
    for i in itertools.count():
        slug = f"fair-{i:x}"
        tag = event_tag(slug)
        if tag in seen:
            return seen[tag], slug
        seen[tag] = slug
    raise AssertionError("unreachable")


async def test_an_event_whose_slug_shares_a_tag_with_another_is_refused(
    client: TestClient,
) -> None:
    first, second = colliding_slugs()
    assert first != second and event_tag(first) == event_tag(second)
    await make_event(client, slug=first)
    with pytest.raises(ValidationFailed) as refused:
        await make_event(client, slug=second)
    assert [e.field for e in refused.value.errors] == ["slug"]
    # The control: a slug with a tag of its own is fine, and the first event can change.
    await make_event(client, slug=second + "-x")
    await make_event(client, slug=first)
