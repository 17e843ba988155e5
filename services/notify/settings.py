"""Notify's settings: the shared ``TOMONI_*`` ones plus its own."""

from __future__ import annotations

from pydantic import Field

from shared.config import TomoniSettings


class NotifySettings(TomoniSettings):
    # Messages per second per channel, per notify process: what a mail relay or SMS
    # provider is sent at most, so a backlog (after an outage) drains without a flood.
    notify_email_per_second: float = Field(default=300.0, gt=0)
    notify_sms_per_second: float = Field(default=10.0, gt=0)
    # SMS to one number in 24 hours, whoever asks: more are skipped (the city pays per
    # message). A registration's ticket, a change and a reminder fit well within it.
    notify_sms_per_recipient_per_day: int = Field(default=8, ge=1)
    # A message refused for its recipient (SMTP 5xx) is tried this many times, then dead.
    notify_max_attempts: int = Field(default=3, ge=1, le=50)
    # First retry after about this many seconds, doubling each time (with jitter).
    notify_retry_base_seconds: float = Field(default=30.0, gt=0)
    notify_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    # A channel that is down (connection refused, 4xx, gateway 5xx) is tried again after
    # a wait that doubles from the base to the cap; its messages wait in order.
    notify_channel_retry_base_seconds: float = Field(default=1.0, gt=0)
    notify_channel_retry_cap_seconds: float = Field(default=60.0, gt=0)
    notify_poll_seconds: float = Field(default=1.0, gt=0)
    # How often due reminders are looked for.
    notify_reminder_poll_seconds: float = Field(default=30.0, gt=0)
    notify_sms_max_segments: int = Field(default=3, ge=1, le=10)
    notify_smtp_timeout_seconds: float = Field(default=15.0, gt=0)
