"""``tomoni up`` routes a path to the service owning its longest prefix, as the proxy of a
deployment does: ``/console/notify/…`` is notify's although ``/console`` is registration's."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from shared.compose import PathPrefixes


async def test_the_longest_prefix_wins() -> None:
    registration = PathPrefixes(["/console", "/events"], excluded=["/console/notify"])
    notify = PathPrefixes(["/api/notify", "/notify", "/console/notify"])

    async def owner(path: str) -> list[str]:
        req = make_mocked_request("GET", path)
        return [
            name
            for name, rule in (("registration", registration), ("notify", notify))
            if await rule.match(req)
        ]

    assert await owner("/console/events/x") == ["registration"]
    assert await owner("/console") == ["registration"]
    assert await owner("/console/notify/fair") == ["notify"]
    assert await owner("/console/notifyx") == ["registration"]
    assert await owner("/notify/unsubscribe") == ["notify"]
    assert await owner("/elsewhere") == []
