"""The console's words for the system's codes (statuses, kinds, roles, notices, field
errors), kept in one place so every page says the same thing. English source strings,
marked for the "console" catalog and translated where they are shown."""

from __future__ import annotations

from collections.abc import Callable

from services.registration.console.web import N_
from shared.errors import FieldError

STATUSES = {
    "confirmed": N_("Confirmed"),
    "waitlisted": N_("Waiting list"),
    "pending_review": N_("Under review"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}

KINDS = {
    "speech_contest": N_("Speech contest"),
    "fair": N_("Fair"),
    "festa": N_("Festival"),
    "volunteer_fair": N_("Volunteer fair"),
    "seminar": N_("Seminar"),
}

ROLES = {
    "gate": N_("Gate"),
    "booth": N_("Booth"),
    "prize_desk": N_("Prize desk"),
}

DEVICE_STATES = {
    "waiting": N_("Waiting to be paired"),
    "paired": N_("Paired"),
    "revoked": N_("Revoked"),
}

# Shown after a redirect; the code travels in the query string, never a name.
NOTICES = {
    "approved": N_("The application was approved."),
    "approved_waitlisted": N_(
        "The application was approved, but the category is full: it is on the waiting list."
    ),
    "rejected": N_("The application was rejected."),
    "cancelled": N_("The registration was cancelled."),
    "erased": N_("The person's data was erased."),
    "not_allowed": N_("This registration can no longer be changed that way."),
    "saved": N_("The event was saved."),
    "announced": N_("The announcement was sent."),
    "revoked": N_("The device was revoked. It can no longer scan."),
}

# Field error messages: first by (field, code), then by code alone.
GENERIC_ERRORS = {
    "missing": N_("This field is required."),
    "invalid": N_("This value is not valid."),
    "too_long": N_("This is too long."),
    "too_short": N_("This is too short."),
    "duplicate": N_("This code is used twice."),
}

SPECIFIC_ERRORS = {
    ("slug", "invalid"): N_(
        "Use 2–63 lowercase letters, digits and hyphens, starting with a letter or digit."
    ),
    ("slug", "exists"): N_("Another event already uses this address name."),
    ("ends_at", "invalid"): N_("The end must be after the start."),
    ("registration_closes_at", "invalid"): N_("Registration must close after it opens."),
    ("categories", "missing"): N_("Add at least one category."),
    ("categories", "too_short"): N_("Add at least one category."),
    ("code", "invalid"): N_(
        "Use lowercase letters, digits, - and _ (up to 40), starting with a letter or digit."
    ),
    ("capacity", "below_confirmed"): N_(
        "The capacity cannot be lower than the people already confirmed."
    ),
    ("remove", "has_registrations"): N_(
        "This category has registrations, so it cannot be removed."
    ),
    ("max_party_size", "invalid"): N_("Enter a number from 1 to 20."),
    ("email", "invalid"): N_("This email address is not valid."),
    ("phone", "invalid"): N_("This phone number is not valid."),
    ("email", "duplicate_registration"): N_(
        "Someone with this email or phone number is already registered in this category."
    ),
    ("party_size", "too_large"): N_("The party is larger than this category allows."),
    ("place", "invalid"): N_(
        "Use letters, digits, - and _ (up to 40), starting with a letter or digit."
    ),
    ("form", "resent"): N_("This form was already sent. Reload the page to start again."),
}


def field_messages(errors: list[FieldError], gettext: Callable[[str], str]) -> dict[str, str]:
    """``{field: message}`` for the page, the first problem of each field."""
    out: dict[str, str] = {}
    for e in errors:
        last = e.field.rsplit(".", 1)[-1]
        key = (last, e.code)
        message = SPECIFIC_ERRORS.get(key) or GENERIC_ERRORS.get(e.code, GENERIC_ERRORS["invalid"])
        out.setdefault(e.field, gettext(message))
    return out
