"""What registration publishes (stream ``<NS>_REGISTRATION``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Contract, contract

EventKind = Literal["speech_contest", "fair", "festa", "volunteer_fair", "seminar"]


class CategorySummary(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    title: dict[str, str]
    capacity: int
    reentry: bool = False


@contract("registration", "event.published")
class EventPublished(Contract):
    """A civic event was created or changed. Carries what other services need to know of
    it (titles, place, time, categories); never anything personal."""

    slug: str
    kind: EventKind
    title: dict[str, str]
    venue: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str = "Asia/Tokyo"
    retention_days: int = 90
    categories: list[CategorySummary] = Field(default_factory=list)
    revision: int = 1


class Contact(BaseModel):
    """Who to tell, and how. Only notify keeps it; checkin and stamprally never get it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    email: str | None = None
    phone: str | None = None
    language: str
    notify_by: str = "email"


class TicketInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID
    qr_text: str


class _RegistrationFact(Contract):
    registration_id: UUID
    category: str
    party_size: int
    contact: Contact
    manage_url: str | None = None  # given when the registration is made


@contract("registration", "registration.confirmed")
class RegistrationConfirmed(_RegistrationFact):
    ticket: TicketInfo


@contract("registration", "registration.waitlisted")
class RegistrationWaitlisted(_RegistrationFact):
    position: int


@contract("registration", "registration.pending_review")
class RegistrationPendingReview(_RegistrationFact):
    """An application (speech contestant, booth exhibitor) arrived for screening."""


@contract("registration", "registration.promoted")
class RegistrationPromoted(_RegistrationFact):
    ticket: TicketInfo


@contract("registration", "registration.approved")
class RegistrationApproved(_RegistrationFact):
    status: Literal["confirmed", "waitlisted"]
    ticket: TicketInfo | None = None
    position: int | None = None


@contract("registration", "registration.rejected")
class RegistrationRejected(_RegistrationFact):
    pass


@contract("registration", "registration.cancelled")
class RegistrationCancelled(_RegistrationFact):
    previous_status: str
    by: Literal["attendee", "organizer"]


@contract("registration", "registration.changed")
class RegistrationChanged(_RegistrationFact):
    """Contact, language or party size changed (self-service)."""


@contract("registration", "ticket.issued")
class TicketIssued(Contract):
    """A ticket checkin and stamprally may admit. ``revision`` grows when the party size
    or language changes; consumers keep the newest. Nothing personal beyond a display
    name."""

    ticket_id: UUID
    registration_id: UUID
    category: str
    party_size: int
    display_name: str
    language: str
    kid: str
    revision: int = 1
    # SHA-256 (hex) of the registration's secret: lets stamprally check the capability
    # of a stamp card (X-Registration-Secret) without asking registration. Not personal
    # and not reversible (the secret is random).
    card_key: str | None = None


@contract("registration", "ticket.revoked")
class TicketRevoked(Contract):
    ticket_id: UUID
    registration_id: UUID
    reason: Literal["cancelled", "rejected"]


@contract("registration", "device.paired")
class DevicePaired(Contract):
    """A volunteer's phone became the scanner of one place (gate, booth, prize desk)."""

    device_id: UUID
    role: Literal["gate", "booth", "prize_desk"]
    place: str
    label: str
    expires_at: datetime


@contract("registration", "device.revoked")
class DeviceRevoked(Contract):
    device_id: UUID


@contract("registration", "event.announced")
class EventAnnounced(Contract):
    """An organizer's message to everyone registered for an event, per language."""

    announcement_id: UUID
    subject: dict[str, str]
    body: dict[str, str]


class PublicKey(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kid: str
    alg: Literal["Ed25519"] = "Ed25519"
    public_key: str


@contract("registration", "keys.published")
class KeysPublished(Contract):
    """The whole set of public keys that verify tickets, device and organizer tokens,
    as of ``as_of``; a newer set replaces an older one."""

    keys: list[PublicKey]
    as_of: datetime


@contract("registration", "registration.erased")
class RegistrationErased(Contract):
    """One person's data was erased (on their request or an organizer's): every service
    erases its copy (names on tickets, messages, answers kept for retries)."""

    registration_id: UUID
    ticket_ids: list[UUID] = Field(default_factory=list)
    by: Literal["attendee", "organizer"]


@contract("registration", "event.erased")
class EventErased(Contract):
    """The event's retention ended: registration erased its personal data (the counts
    stay); every service erases its own copy for the event."""

    registrations: int
