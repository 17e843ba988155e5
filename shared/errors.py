"""The one exception tree of Tomoni.

::

    TomoniError                      (500 internal_error)
    ├── ConfigError                  start-up only: a TOMONI_* variable is missing or malformed
    ├── ValidationFailed             422: the request is malformed; carries field errors
    ├── NotFound                     404: also used when a secret does not match (no enumeration)
    ├── Conflict                     409: e.g. duplicate_registration
    ├── Gone                         410: e.g. an expired or used pairing code
    ├── Unauthorized                 401: no or bad credentials
    ├── Forbidden                    403: valid credentials, wrong scope
    ├── PayloadTooLarge              413
    ├── RateLimited                  429: carries retry_after seconds
    └── Unavailable                  503: a dependency is down; carries retry_after seconds

Every subclass has a closed, lower_snake ``code`` and an HTTP ``status``. The HTTP edge
(``shared.http.error_middleware``) is the only place that turns them into
``application/problem+json``; titles are looked up in the message catalogs by ``code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``field`` is a dotted name (``answers.nationality``)."""

    field: str
    code: str
    params: dict[str, object] = dc_field(default_factory=dict)


class TomoniError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        if code is not None:
            self.code = code


class ConfigError(TomoniError):
    code = "config_error"


class ValidationFailed(TomoniError):
    status = 422
    code = "validation_failed"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail)
        self.errors = errors


class NotFound(TomoniError):
    status = 404
    code = "not_found"


class Conflict(TomoniError):
    status = 409
    code = "conflict"


class Gone(TomoniError):
    status = 410
    code = "gone"


class Unauthorized(TomoniError):
    status = 401
    code = "unauthorized"


class Forbidden(TomoniError):
    status = 403
    code = "forbidden"


class PayloadTooLarge(TomoniError):
    status = 413
    code = "payload_too_large"


class RateLimited(TomoniError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(TomoniError):
    status = 503
    code = "unavailable"

    def __init__(self, retry_after: int = 5, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
