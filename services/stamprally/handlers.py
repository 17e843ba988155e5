"""Stamprally's HTTP edge. So far the operators' view of the events it learned over the bus
(shared with the other consuming services); the capability's routes come with its issue."""

from __future__ import annotations

from shared.readmodel import known_events

__all__ = ["known_events"]
