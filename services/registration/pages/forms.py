"""The attendee forms: reading form-encoded posts into use-case requests, and turning the
use cases' field errors and conflicts into messages a person can act on.

The API answers errors with generic texts (``shared.http.FIELD_MESSAGES``); a page can
say more ("Please enter your name."), so these messages are the pages' own msgids. They
must not reuse the API's msgids: this service's catalog is searched before the shared
one, and furigana markup would leak into JSON.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiDictProxy

from services.registration.domain import Category, FormField
from services.registration.pages.render import N_, Msg
from services.registration.service import Change, RegistrationRequest
from shared.errors import FieldError
from shared.i18n import LANGUAGES

NOTIFY_CHOICES = ("email", "sms", "both")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,100}$")

# Labels of the fields every registration form has, in form order.
LABELS: dict[str, str] = {
    "name": N_("Name"),
    "name_kana": N_("Name in kana"),
    "email": N_("Email address"),
    "phone": N_("Phone number"),
    "party_size": N_("Number of people"),
    "notify_by": N_("How should we send you messages?"),
    "language": N_("Language for messages"),
}

# Conflicts and other answers that concern the whole form, by code.
FORM_MESSAGES: dict[str, str] = {
    "duplicate_registration": N_(
        "You have already registered with this email address or phone number. "
        "Please look at the email or SMS we sent you."
    ),
    "registration_closed": N_("Registration is closed."),
    "registration_not_open": N_("Registration has not started yet."),
    "idempotency_key_reused": N_(
        "This form was already sent once. Please check your details and send it again."
    ),
    "no_capacity": N_("There are not enough places for that many people."),
    "not_allowed_in_this_status": N_("This registration can no longer be changed."),
    "rate_limited": N_("Too many tries. Please wait a minute and try again."),
}

_BY_FIELD: dict[tuple[str, str], str] = {
    ("name", "missing"): N_("Please enter your name."),
    ("email", "invalid"): N_("Please enter a correct email address, for example name@example.com."),
    ("email", "contact_missing"): N_("Please enter an email address or a phone number."),
    ("email", "missing"): N_(
        "You chose email for messages. Please enter your email address, or choose SMS."
    ),
    ("phone", "invalid"): N_("Please enter a correct phone number, for example 090-1234-5678."),
    ("phone", "missing"): N_(
        "You chose SMS for messages. Please enter your phone number, or choose email."
    ),
}
_BY_TYPE: dict[tuple[str, str], str] = {
    ("checkbox", "missing"): N_("Please check this box."),
    ("choice", "missing"): N_("Please choose one."),
    ("number", "invalid"): N_("Please enter a number."),
    ("date", "invalid"): N_("Please enter a date."),
}
_BY_CODE: dict[str, str] = {
    "missing": N_("Please answer this question."),
    "too_long": N_("This is too long. Please make it shorter."),
}
PARTY_SIZE = N_("Please choose the number of people.")
LANGUAGE = N_("Please choose a language.")
CHECK_THIS = N_("Please check this.")


def new_token() -> str:
    """The idempotency key rendered into a form: a retry of the same form on a bad
    network, or a double tap, gets the first answer instead of a second registration."""
    return secrets.token_urlsafe(24)


def valid_token(text: str | None) -> str | None:
    return text if text and _TOKEN.match(text) else None


def field_id(name: str, index: int | None = None) -> str:
    """The HTML id of a field (``answers.grade`` → ``f-answers-grade``)."""
    base = "f-" + name.replace(".", "-")
    return base if index is None else f"{base}-{index}"


@dataclass(frozen=True)
class Problem:
    """One line of the error summary, linked to its field (``target`` is an HTML id)."""

    message: Msg
    target: str | None = None
    label: str | None = None  # a msgid
    label_text: dict[str, str] | None = None  # a field's own multilingual label


@dataclass
class Errors:
    by_field: dict[str, Msg] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def general(self, code: str) -> None:
        self.problems.append(Problem(Msg(FORM_MESSAGES.get(code, CHECK_THIS))))


def message_for(error: FieldError, ftype: str | None = None) -> Msg:
    if error.field == "party_size":
        return Msg(PARTY_SIZE)
    if error.field == "language":
        return Msg(LANGUAGE)
    text = (
        _BY_FIELD.get((error.field, error.code))
        or _BY_TYPE.get((ftype or "", error.code))
        or _BY_CODE.get(error.code)
        or CHECK_THIS
    )
    return Msg(text)


def collect(errors: list[FieldError], category: Category | None) -> Errors:
    """Field errors in form order, each once, with the label the summary shows."""
    fields = {f"answers.{f.key}": f for f in (category.fields if category else ())}
    order = [*LABELS, *fields]
    out = Errors()
    for error in sorted(errors, key=lambda e: order.index(e.field) if e.field in order else 99):
        if error.field in out.by_field:
            continue
        custom = fields.get(error.field)
        if error.field not in LABELS and custom is None:
            out.general(error.code)
            continue
        msg = message_for(error, custom.type if custom else None)
        out.by_field[error.field] = msg
        radio = error.field == "notify_by" or (custom is not None and custom.type == "choice")
        out.problems.append(
            Problem(
                msg,
                target=field_id(error.field, 0 if radio else None),
                label=LABELS.get(error.field),
                label_text=custom.label if custom else None,
            )
        )
    return out


# -- reading posts ----------------------------------------------------------------------
def _int(text: str | None, default: int = 1) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        return default


def _answer(f: FormField, form: MultiDictProxy[Any]) -> object:
    """A form value as the answer type the domain checks (a wrong one stays a string, so
    the domain reports it as invalid)."""
    raw = form.get(f"answers.{f.key}")
    if f.type == "checkbox":
        return raw is not None
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    if f.type == "number":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text.replace(",", "."))
            except ValueError:
                return text
    return text


def registration_request(
    form: MultiDictProxy[Any], category: Category, page_lang: str
) -> RegistrationRequest:
    language = str(form.get("language") or page_lang)
    notify = str(form.get("notify_by") or "email")
    return RegistrationRequest(
        category=category.code,
        name=str(form.get("name") or ""),
        name_kana=str(form.get("name_kana") or "").strip() or None,
        email=str(form.get("email") or "").strip() or None,
        phone=str(form.get("phone") or "").strip() or None,
        language=language,
        party_size=_int(form.get("party_size")),
        answers={f.key: _answer(f, form) for f in category.fields},
        notify_by=notify if notify in NOTIFY_CHOICES else "email",
    )


def form_values(form: MultiDictProxy[Any]) -> dict[str, str]:
    """What the person typed, to render the form again with nothing lost."""
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def change_request(form: MultiDictProxy[Any], reg: Any) -> Change:
    """Only what differs from the registration: an unchanged language or party size must
    not re-issue the ticket."""
    email = str(form.get("email") or "").strip()
    phone = str(form.get("phone") or "").strip()
    language = str(form.get("language") or reg["language"])
    party = _int(form.get("party_size"), reg["party_size"])
    return Change(
        email=email if email != (reg["email"] or "") else None,
        phone=phone if phone != (reg["phone"] or "") else None,
        language=language if language != reg["language"] else None,
        party_size=party if party != reg["party_size"] else None,
    )


def known_language(code: str | None, default: str) -> str:
    return code if code in LANGUAGES else default
