"""Settings base: every ``TOMONI_*`` variable of API.md, read once, failing fast.

A missing or malformed value stops start-up with one line naming the variable
(``load_settings`` turns pydantic's report into a :class:`ConfigError`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError

S = TypeVar("S", bound="TomoniSettings")

_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class TomoniSettings(BaseSettings):
    """What every service reads. Services subclass it for their own variables."""

    model_config = SettingsConfigDict(env_prefix="TOMONI_", extra="ignore", frozen=True)

    database_url: str | None = None
    nats_url: str | None = None
    http_port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path(".tomoni")
    smtp_url: str | None = None
    mail_from: str = "Tomoni <noreply@tomoni.invalid>"
    sms_url: str | None = None
    admin_email: str | None = None
    admin_password: str | None = None
    demo: bool = False  # `tomoni up` turns it on unless TOMONI_DEMO says otherwise
    rate_limit: bool = True
    public_url: str | None = None
    # Behind a reverse proxy that sets X-Forwarded-For (deploy/): use it for rate limits.
    trust_proxy: bool = False
    # Prefix of every subject and stream name: lets one NATS serve several
    # installations (or test modules) without them seeing each other.
    bus_namespace: str = "tomoni"
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=16, ge=1)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    outbox_batch: int = Field(default=512, ge=1, le=10_000)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    relay_lock_retry_seconds: float = Field(default=1.0, gt=0)
    consumer_max_deliver: int = Field(default=8, ge=1)
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    # How long sent outbox rows (the ledger `tomoni replay` reads) and inbox claims are
    # kept. The inbox outlives the ledger so a replay of anything still in the ledger
    # finds its claims.
    ledger_retention_days: int = Field(default=90, ge=1)
    inbox_retention_days: int = Field(default=120, ge=1)
    maintenance_interval_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("must start with postgresql://")
        return v

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, v: str | None) -> str | None:
        if v is not None and not all(
            u.strip().startswith(("nats://", "tls://")) for u in v.split(",")
        ):
            raise ValueError("must be nats://host:port (comma-separated for a cluster)")
        return v

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("smtp://", "smtps://")):
            raise ValueError("must be smtp://host:port or smtps://host:port")
        return v

    @field_validator("bus_namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not _NAMESPACE.match(v):
            raise ValueError("must be lowercase letters, digits and _ (starting with a letter)")
        return v

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in (self.nats_url or "").split(",") if u.strip()]


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment plus ``overrides``; fail with one clear line."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise ConfigError(
            f"TOMONI_{name.upper()}: {first['msg']} (got {first.get('input')!r})"
        ) from None
