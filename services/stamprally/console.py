"""Stamprally's page in the organizer console (``/console/rally/{slug}``): an event's stamp
rally as a form that city staff fill in — the title, the rule to complete, whether
attendees must enter at the entrance first, the opening hours, the booths (code, kind,
names and descriptions in Japanese and English, required or not) and the prizes in the
order they are handed out, with their stock and how many were handed out.

The form is plain HTML that works without JavaScript: the existing booths and prizes are
its rows, with a few empty rows below to add more (an empty row is skipped; emptying a
booth's row takes it out of the rally, its stamps stay). Names and descriptions in the
other languages (given through the API) are kept for a booth or prize whose code stays.
Saving goes through the same checks as the API (:func:`domain.validate_rally`); a form
with any problem stores nothing and comes back with every problem named at its field.

The session cookie carries the organizer's signed token (``O1.``), checked with this
service's copy of the public keys, as for the API. The form has its own CSRF token (a
random value in a SameSite=Strict cookie and in the form), on top of the session cookie
being SameSite=Strict.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.numbers import format_decimal
from jinja2.ext import babel_extract

from services.stamprally import domain, repository, service
from shared.catalogs import extract_messages
from shared.errors import NotFound
from shared.formatting import Formatter, zone_of
from shared.i18n import Translator
from shared.ids import ticket_number
from shared.readmodel import keys_of
from shared.runtime import RUNTIME, Runtime
from shared.templating import (
    FormToken,
    console_organizer,
    console_page,
    console_sources,
    console_translator,
    page_environment,
)

DOMAIN = "console"
CSRF_COOKIE = "tomoni_rally_csrf"
PREFIX = "/console/rally"
CODE = Path(__file__).resolve()
HERE = CODE.parent
TEMPLATES = HERE / "templates" / "console"
LOCALE_DIR = HERE / "locale"
TEMPLATE = "rally.html"
EDITED = ("ja", "en")  # the languages the form edits; the others are kept as they are
EMPTY_BOOTH_ROWS = 5
EMPTY_PRIZE_ROWS = 2
MAX_ROWS = 500  # rows read from a form (the rally's own limit on booths)


def N_(message: str) -> str:
    return message


KIND_LABELS = {
    "country": N_("Country or region"),
    "food": N_("Food"),
    "goods": N_("Goods"),
    "culture": N_("Culture experience"),
    "stage": N_("Stage"),
    "info": N_("Information desk"),
    "organisation": N_("Organization"),
}

# What each problem code says at its field (domain.validate_rally's codes and the form's).
MESSAGES = {
    "required": N_("Please fill this in, in Japanese or English."),
    "booths_required": N_("Add at least one booth."),
    "invalid": N_("This value is not valid."),
    "invalid_code": N_(
        "Use small letters a-z, digits, - and _ (up to 40), starting with a letter or digit."
    ),
    "invalid_kind": N_("Choose a kind."),
    "duplicate": N_("This code is used twice."),
    "unknown_booth": N_("This booth is not in the list."),
    "out_of_range": N_(
        "Enter a number from 1 to %(max)s (0 only when some booths are marked required)."
    ),
    "negative": N_("Enter 0 or more."),
    "not_a_number": N_("Enter a whole number."),
    "not_a_time": N_("Enter a date and a time."),
    "too_long": N_("This is too long: at most %(max)s characters."),
    "before_start": N_("The closing time must be after the opening time."),
}


# -- the form, as pure functions ----------------------------------------------------------
@dataclass
class Parsed:
    """A submitted form: the draft to save, and where each draft item came from."""

    draft: domain.RallyDraft
    booth_rows: list[int]  # draft.booths[i] is the form's booth row booth_rows[i]
    prize_rows: list[int]
    problems: list[domain.Problem] = field(default_factory=list)  # the form's own


def _rows(form: Mapping[str, str], kind: str) -> list[int]:
    """The row numbers a form holds for ``booths`` or ``prizes``, in order."""
    found: set[int] = set()
    for key in form:
        parts = key.split(".")
        if len(parts) >= 3 and parts[0] == kind and parts[1].isdigit():
            row = int(parts[1])
            if row < MAX_ROWS:
                found.add(row)
    return sorted(found)


def _text(form: Mapping[str, str], at: str, kept: Mapping[str, str] | None) -> dict[str, str]:
    """A multilingual text: the form's Japanese and English, and the other languages kept
    from the stored version."""
    text = {k: v for k, v in (kept or {}).items() if k not in EDITED}
    for lang in EDITED:
        value = form.get(f"{at}.{lang}", "").strip()
        if value:
            text[lang] = value
    return text


def _when(
    form: Mapping[str, str], name: str, zone: ZoneInfo, problems: list[domain.Problem]
) -> datetime | None:
    value = form.get(name, "").strip()
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        problems.append(domain.Problem(name, "not_a_time"))
        return None
    return at.replace(tzinfo=zone) if at.tzinfo is None else at


def _number(
    form: Mapping[str, str], name: str, problems: list[domain.Problem], default: int = 0
) -> int:
    value = form.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        problems.append(domain.Problem(name, "not_a_number"))
        return default


def parse_form(form: Mapping[str, str], stored: Mapping[str, Any] | None, timezone: str) -> Parsed:
    """The rally a submitted form describes. ``stored`` is the rally as it is now (its
    other-language texts are kept by code)."""
    zone = zone_of(timezone)
    problems: list[domain.Problem] = []
    old_booths = {b["code"]: b for b in (stored or {}).get("booths", [])}
    old_prizes = {p["code"]: p for p in (stored or {}).get("prizes", [])}

    booths: list[domain.Booth] = []
    booth_rows: list[int] = []
    required: list[str] = []
    for row in _rows(form, "booths"):
        at = f"booths.{row}"
        code = form.get(f"{at}.code", "").strip()
        texts = [
            form.get(f"{at}.{part}.{lang}", "").strip()
            for part in ("name", "description")
            for lang in EDITED
        ]
        if not code and not any(texts):
            continue  # an empty row
        old = old_booths.get(code, {})
        booths.append(
            domain.Booth(
                code,
                _text(form, f"{at}.name", old.get("name")),
                form.get(f"{at}.kind", "").strip(),
                _text(form, f"{at}.description", old.get("description")),
            )
        )
        booth_rows.append(row)
        if form.get(f"{at}.required"):
            required.append(code)

    prizes: list[domain.Prize] = []
    prize_rows: list[int] = []
    for row in _rows(form, "prizes"):
        at = f"prizes.{row}"
        code = form.get(f"{at}.code", "").strip()
        names = [form.get(f"{at}.name.{lang}", "").strip() for lang in EDITED]
        stock_text = form.get(f"{at}.stock", "").strip()
        if not code and not any(names) and not stock_text:
            continue
        prizes.append(
            domain.Prize(
                code,
                _text(form, f"{at}.name", old_prizes.get(code, {}).get("name")),
                _number(form, f"{at}.stock", problems),
            )
        )
        prize_rows.append(row)

    draft = domain.RallyDraft(
        title=_text(form, "title", (stored or {}).get("title")),
        min_stamps=_number(form, "min_stamps", problems),
        booths=tuple(booths),
        required_booths=tuple(required),
        requires_checkin=bool(form.get("requires_checkin")),
        opens_at=_when(form, "opens_at", zone, problems),
        closes_at=_when(form, "closes_at", zone, problems),
        prizes=tuple(prizes),
    )
    return Parsed(draft, booth_rows, prize_rows, problems)


def form_field(problem: domain.Problem, parsed: Parsed) -> str:
    """The form field a problem belongs at: draft indexes become the form's row numbers,
    and a whole-text problem ("name", "title") goes to its Japanese field."""
    parts = problem.field.split(".")
    if parts[0] in ("booths", "prizes") and len(parts) >= 2 and parts[1].isdigit():
        rows = parsed.booth_rows if parts[0] == "booths" else parsed.prize_rows
        index = int(parts[1])
        if index < len(rows):
            parts[1] = str(rows[index])
    if parts[0] == "required_booths":
        return "booths"
    if parts[-1] in ("title", "name", "description"):
        parts.append("ja")
    return ".".join(parts)


# The labels of the form's fields, for the list of problems at the top of the page.
FIELD_LABELS = {
    "title.ja": N_("Title (Japanese)"),
    "title.en": N_("Title (English)"),
    "min_stamps": N_("Stamps for a complete card"),
    "opens_at": N_("Opens"),
    "closes_at": N_("Closes"),
    "booths": N_("Booths"),
}
ROW_LABELS = {"booths": N_("Booth %(n)s"), "prizes": N_("Prize %(n)s")}
PART_LABELS = {
    "code": N_("Code"),
    "kind": N_("Kind"),
    "name.ja": N_("Name (Japanese)"),
    "name.en": N_("Name (English)"),
    "description.ja": N_("Description (Japanese)"),
    "description.en": N_("Description (English)"),
    "stock": N_("Stock"),
}


def field_label(name: str, t: Translator) -> str:
    """A form field's label, with its row for a booth's or prize's ("Booth 2: Code");
    empty for a field the form does not show."""
    if name in FIELD_LABELS:
        return t.gettext(FIELD_LABELS[name])
    kind, _, rest = name.partition(".")
    row, _, part = rest.partition(".")
    if kind in ROW_LABELS and row.isdigit() and part in PART_LABELS:
        return (
            f"{t.gettext(ROW_LABELS[kind]) % {'n': int(row) + 1}}: {t.gettext(PART_LABELS[part])}"
        )
    return ""


def message_of(problem: domain.Problem, t: Translator) -> str:
    """A problem, in the organizer's language."""
    last = problem.field.split(".")[-1]
    key = problem.code
    params: dict[str, object] = dict(problem.params)
    if key == "invalid" and last in ("code", "kind"):
        key = f"invalid_{last}"
    elif key == "required" and problem.field == "booths":
        key = "booths_required"
    elif key == "out_of_range" and "max" not in params:
        key = "negative"
    elif key == "too_long":
        in_description = ".description." in f".{problem.field}."
        params["max"] = domain.DESCRIPTION_MAX if in_description else domain.NAME_MAX
    text = t.gettext(MESSAGES.get(key, MESSAGES["invalid"]))
    return text % params if "%(" in text else text


def errors_at_fields(
    problems: list[domain.Problem], parsed: Parsed, t: Translator
) -> dict[str, str]:
    """Each field's first problem (a number that is not one is said, not its range)."""
    errors: dict[str, str] = {}
    for p in problems:
        errors.setdefault(form_field(p, parsed), message_of(p, t))
    return errors


def form_values(rally: Mapping[str, Any] | None, timezone: str) -> dict[str, str]:
    """The form's fields filled from the stored rally (a new rally: an empty form)."""
    if rally is None:
        return {"min_stamps": ""}
    zone = zone_of(timezone)
    values: dict[str, str] = {"min_stamps": str(rally["min_stamps"])}
    for lang in EDITED:
        values[f"title.{lang}"] = rally["title"].get(lang, "")
    if rally["requires_checkin"]:
        values["requires_checkin"] = "1"
    for name in ("opens_at", "closes_at"):
        if rally[name]:
            at = datetime.fromisoformat(rally[name]).astimezone(zone)
            values[name] = at.strftime("%Y-%m-%dT%H:%M")
    required = set(rally["required_booths"])
    for i, b in enumerate(rally["booths"]):
        values[f"booths.{i}.code"] = b["code"]
        values[f"booths.{i}.kind"] = b["kind"]
        for lang in EDITED:
            values[f"booths.{i}.name.{lang}"] = b["name"].get(lang, "")
            values[f"booths.{i}.description.{lang}"] = b["description"].get(lang, "")
        if b["code"] in required:
            values[f"booths.{i}.required"] = "1"
    for i, p in enumerate(rally["prizes"]):
        values[f"prizes.{i}.code"] = p["code"]
        values[f"prizes.{i}.stock"] = str(p["stock"])
        for lang in EDITED:
            values[f"prizes.{i}.name.{lang}"] = p["name"].get(lang, "")
    return values


def row_count(values: Mapping[str, str], kind: str, empty: int) -> int:
    """How many rows the form shows: every filled one, and ``empty`` more (a kind's
    select alone does not fill a row)."""
    filled = {k: v for k, v in values.items() if v.strip() and not k.endswith(".kind")}
    rows = _rows(filled, kind)
    return (rows[-1] + 1 if rows else 0) + empty


# -- the page -----------------------------------------------------------------------------
_env = page_environment(TEMPLATES)
FORM_TOKEN = FormToken(CSRF_COOKIE, PREFIX)


async def _stored(rt: Runtime, slug: str) -> dict[str, Any] | None:
    try:
        return await service.rally_view(rt.pool, slug)
    except NotFound:
        return None


async def checks(
    rt: Runtime, slug: str, stored: Mapping[str, Any], fmt: Formatter, timezone: str
) -> dict[str, list[dict[str, str]]]:
    """The suspicion flags, for people: booth names in the console's language, local times,
    and the ticket number printed under the QR code."""
    names = {b["code"]: fmt.text(b["name"]).text for b in stored["booths"]}

    def when(iso: str) -> str:
        return fmt.when(datetime.fromisoformat(iso), timezone)

    fast = await repository.fast_devices(rt.pool, slug, service.FAST_STAMPS_PER_MINUTE)
    hops = await repository.quick_hops(rt.pool, slug, service.QUICK_HOP_SECONDS)
    return {
        "fast": [
            {
                "booth": names.get(f["booth"], f["booth"] or ""),
                "label": f["label"],
                "when": when(f["minute"]),
                "stamps": fmt.number(f["stamps"]),
            }
            for f in fast
        ],
        "hops": [
            {
                "booths": " → ".join(names.get(b, b) for b in h["booths"]),
                "when": when(h["at"]),
                "seconds": format_decimal(h["seconds"], locale=fmt.locale),
                "number": ticket_number(h["ticket_id"]),
            }
            for h in hops
        ],
    }


def _page(
    request: web.Request,
    t: Translator,
    *,
    slug: str,
    event: Any,
    stored: dict[str, Any] | None,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    flags: Mapping[str, list[dict[str, str]]] | None = None,
    status: int = 200,
) -> web.Response:
    fmt = Formatter(t.lang)
    title = fmt.text(event["title"])
    csrf = FORM_TOKEN.value(request)
    given = {p["code"]: p["stock"] - p["left"] for p in (stored or {}).get("prizes", [])}
    response = console_page(
        _env,
        TEMPLATE,
        t,
        status=status,
        slug=slug,
        event=title.text,
        event_lang=title.lang,
        exists=stored is not None,
        saved=request.query.get("saved") == "1",
        values=values,
        errors=errors,
        labels={name: field_label(name, t) for name in errors},
        booth_rows=row_count(values, "booths", EMPTY_BOOTH_ROWS),
        prize_rows=row_count(values, "prizes", EMPTY_PRIZE_ROWS),
        kinds=[(code, t.gettext(label)) for code, label in KIND_LABELS.items()],
        given=given,
        zone=event["timezone"],
        flags=flags,
        fast_limit=service.FAST_STAMPS_PER_MINUTE,
        hop_seconds=fmt.number(int(service.QUICK_HOP_SECONDS)),
        csrf=csrf,
    )
    FORM_TOKEN.set(request, response, csrf)
    return response


async def rally_page(request: web.Request) -> web.StreamResponse:
    rt: Runtime = request.app[RUNTIME]
    slug = request.match_info["slug"]
    await console_organizer(request, keys_of(rt), slug)
    event = await repository.event(rt.pool, slug)
    if event is None:
        raise web.HTTPNotFound(text="404")
    stored = await _stored(rt, slug)
    t = console_translator(request, LOCALE_DIR, DOMAIN)
    flags = None
    if stored is not None:
        flags = await checks(rt, slug, stored, Formatter(t.lang), event["timezone"])
    return _page(
        request,
        t,
        slug=slug,
        event=event,
        stored=stored,
        values=form_values(stored, event["timezone"]),
        errors={},
        flags=flags,
    )


async def save_rally(request: web.Request) -> web.StreamResponse:
    rt: Runtime = request.app[RUNTIME]
    slug = request.match_info["slug"]
    await console_organizer(request, keys_of(rt), slug)
    posted = await request.post()
    FORM_TOKEN.check(request, posted)
    event = await repository.event(rt.pool, slug)
    if event is None:
        raise web.HTTPNotFound(text="404")
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    stored = await _stored(rt, slug)
    parsed = parse_form(form, stored, event["timezone"])
    problems = parsed.problems + domain.validate_rally(parsed.draft)
    if problems:
        t = console_translator(request, LOCALE_DIR, DOMAIN)
        return _page(
            request,
            t,
            slug=slug,
            event=event,
            stored=stored,
            values=form,
            errors=errors_at_fields(problems, parsed, t),
            status=422,
        )
    await service.save_rally(rt, slug, parsed.draft)
    raise web.HTTPSeeOther(f"{PREFIX}/{slug}?saved=1")


def used_messages() -> Iterator[tuple[str, str, int]]:
    """(msgid, file, line) of the page's strings, for the catalog script."""
    sources = console_sources((CODE, "python"), (TEMPLATES / TEMPLATE, babel_extract))
    return extract_messages(sources, CODE.parents[2])
