"""Logs are JSON lines carrying the correlation id of what is being handled."""

from __future__ import annotations

import json
import logging

import pytest

from shared.logging import configure_logging, correlation_id


def test_json_log_line_has_the_correlation_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    configure_logging("INFO", "json")
    try:
        token = correlation_id.set("req-42")
        logging.getLogger("tomoni.test").info("registration stored", extra={"registration": "r1"})
        correlation_id.reset(token)
    finally:
        for h in list(root.handlers):
            if getattr(h, "_tomoni", False):
                root.removeHandler(h)
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["correlation_id"] == "req-42"
    assert line["level"] == "INFO" and line["logger"] == "tomoni.test"
    assert line["message"] == "registration stored" and line["registration"] == "r1"
