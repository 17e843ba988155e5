"""Settings fail fast with one line naming the variable."""

from __future__ import annotations

import pytest

from shared.config import TomoniSettings, load_settings
from shared.errors import ConfigError


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TOMONI_HTTP_PORT": "eighty"}, "TOMONI_HTTP_PORT"),
        ({"TOMONI_HTTP_PORT": "70000"}, "TOMONI_HTTP_PORT"),
        ({"TOMONI_DATABASE_URL": "mysql://x"}, "TOMONI_DATABASE_URL"),
        ({"TOMONI_NATS_URL": "localhost:4222"}, "TOMONI_NATS_URL"),
        ({"TOMONI_SMTP_URL": "http://mail"}, "TOMONI_SMTP_URL"),
        ({"TOMONI_DEMO": "maybe"}, "TOMONI_DEMO"),
        ({"TOMONI_BUS_NAMESPACE": "Has-Caps"}, "TOMONI_BUS_NAMESPACE"),
    ],
)
def test_malformed_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as exc:
        load_settings(TomoniSettings)
    message = str(exc.value)
    assert message.startswith(needle) and "\n" not in message


def test_defaults_and_cluster_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOMONI_NATS_URL", "nats://a:4222, nats://b:4222")
    monkeypatch.setenv("TOMONI_DEMO", "1")
    s = load_settings(TomoniSettings)
    assert s.nats_servers == ["nats://a:4222", "nats://b:4222"]
    assert s.http_port == 8080 and s.demo is True and s.max_body_bytes == 1024 * 1024
