"""Registration's settings: the shared ``TOMONI_*`` ones plus its own."""

from __future__ import annotations

from shared.config import TomoniSettings


class RegistrationSettings(TomoniSettings):
    pass
