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


async def test_the_services_own_prefixes_route_each_console_page_to_its_service() -> None:
    """The real services' prefixes, excluded as ``compose`` does: the console's rally
    form is stamprally's and its messages page notify's, inside registration's console."""
    from services.checkin.app import DEFINITION as checkin
    from services.notify.app import DEFINITION as notify
    from services.registration.app import DEFINITION as registration
    from services.stamprally.app import DEFINITION as stamprally
    from shared.compose import rules as compose_rules

    routing = compose_rules(
        {d.name: d.prefixes for d in (registration, checkin, stamprally, notify)}
    )

    async def owner(path: str) -> list[str]:
        req = make_mocked_request("GET", path)
        return [name for name, rule in routing.items() if await rule.match(req)]

    assert await owner("/console/rally/fair") == ["stamprally"]
    assert await owner("/console/notify/fair") == ["notify"]
    assert await owner("/console/events/fair") == ["registration"]
    assert await owner("/rally/cards/x/y") == ["stamprally"]
