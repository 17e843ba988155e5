"""The four services as ``tomoni up`` composes them on one origin, for tests that need
all of them (the authorization matrix, the web security checks, the API fuzzing): one
place that builds their settings, and the test event they share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from services.checkin.app import create_app as checkin_app
from services.checkin.settings import CheckinSettings
from services.notify.app import create_app as notify_app
from services.notify.settings import NotifySettings
from services.registration.app import create_app as registration_app
from services.registration.settings import RegistrationSettings
from services.stamprally.app import create_app as stamprally_app
from services.stamprally.settings import StamprallySettings


def four_apps(
    make_settings: Any,
    *,
    data_dir: Path,
    port: int,
    admin: tuple[str, str],
    registration: dict[str, Any] | None = None,
    notify: dict[str, Any] | None = None,
    **common: Any,
) -> dict[str, web.Application]:
    """Registration, checkin, stamprally and notify for ``http://127.0.0.1:<port>``:
    ``common`` settings for all four, ``registration`` and ``notify`` for one each."""
    common = {"public_url": f"http://127.0.0.1:{port}", **common}
    return {
        "registration": registration_app(
            make_settings(
                RegistrationSettings,
                data_dir=data_dir,
                admin_email=admin[0],
                admin_password=admin[1],
                **(registration or {}),
                **common,
            )
        ),
        "checkin": checkin_app(make_settings(CheckinSettings, **common)),
        "stamprally": stamprally_app(make_settings(StamprallySettings, **common)),
        "notify": notify_app(make_settings(NotifySettings, **(notify or {}), **common)),
    }


def event_body(slug: str) -> dict[str, Any]:
    """A fair a week ahead: visitors (parties up to 5) and speakers under review."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    cat = {"title": {"ja": "来場者", "en": "Visitor"}, "capacity": 10_000, "max_party_size": 5}
    return {
        "slug": slug,
        "kind": "fair",
        "title": {"ja": "多文化フェスタ", "en": "Multicultural Fair"},
        "venue": {"ja": "キュポ・ラ広場", "en": "Cupo-la Plaza"},
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=6)).isoformat(),
        "categories": [
            {"code": "visitor", **cat},
            {"code": "speaker", **cat, "title": {"ja": "発表者", "en": "Speaker"}, "review": True},
        ],
    }
