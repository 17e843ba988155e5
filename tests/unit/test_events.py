"""The envelope and contracts: round trip, additive change, subjects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.contracts.registration import EventPublished
from shared.events import Envelope, contract_for, envelope_for, stream_name
from shared.ids import new_secret, uuid7


def payload() -> EventPublished:
    t = datetime(2027, 10, 24, 4, tzinfo=UTC)
    return EventPublished(
        slug="speech-contest-2027",
        kind="speech_contest",
        title={"ja": "スピーチ"},
        venue={"ja": "フレンディア"},
        starts_at=t,
        ends_at=t,
    )


def test_envelope_round_trips_and_names_its_subject() -> None:
    env = envelope_for(payload(), event="speech-contest-2027", correlation_id="c-1")
    again = Envelope.model_validate_json(env.model_dump_json())
    assert again == env
    assert again.parse(EventPublished) == payload()
    assert env.subject("tomoni") == "tomoni.registration.event.published"
    assert stream_name("tomoni", "registration") == "TOMONI_REGISTRATION"
    assert contract_for("registration", "event.published") is EventPublished


def test_consumers_ignore_fields_a_newer_publisher_added() -> None:
    env = envelope_for(payload(), event="x")
    data = json.loads(env.model_dump_json())
    data["new_envelope_field"] = 1
    data["payload"]["new_payload_field"] = {"anything": True}
    parsed = Envelope.model_validate(data)
    assert parsed.parse(EventPublished).slug == "speech-contest-2027"


def test_event_ids_are_uuid7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(100)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)


def test_secrets_are_long_and_unique() -> None:
    secrets = {new_secret() for _ in range(1000)}
    assert len(secrets) == 1000 and all(len(s) >= 32 for s in secrets)
