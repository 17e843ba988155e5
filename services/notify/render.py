"""How a notification becomes a message: Jinja2 templates (``templates/<name>.html``,
each with a ``subject``, a ``body`` and an ``sms`` block) and the notify catalogs
(``locale/<lang>/LC_MESSAGES/messages.po``, English msgids, Japanese with furigana as
``<ruby>``).

The HTML part keeps the furigana; the subject, the plain-text part and the SMS drop it
(:func:`shared.formatting.plain`). A language whose catalog does not translate every
string of a template is not sent half-translated: the message goes in Japanese and
English side by side instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2.ext import babel_extract
from markupsafe import Markup

from shared.catalogs import extract_messages
from shared.formatting import Formatter, plain
from shared.i18n import LANGUAGES, has_translation, translator
from shared.ids import ticket_number
from shared.templating import page_environment

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
LOCALE_DIR = HERE / "locale"
QR_CID = "ticket-qr"
# The blocks every template may use, from ``templates/_event.html``.
MACROS = ("event_block", "ticket_block", "manage_block")


def N_(message: str) -> str:
    return message


FOOTER = N_(
    "This message is from Tomoni, the event system of Kawaguchi City. Please do not reply to it."
)

_env = page_environment(TEMPLATES)


class TemplateMissing(Exception):
    """No template of that name: the notification cannot be rendered at all."""


@dataclass(frozen=True)
class EventInfo:
    title: dict[str, str]
    venue: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str
    languages: tuple[str, ...]


@cache
def template_messages(name: str) -> frozenset[str]:
    """Every msgid a template (with the macros it imports) and the footer use."""
    found = {FOOTER}
    for path in (TEMPLATES / f"{name}.html", TEMPLATES / "_event.html"):
        with path.open("rb") as f:
            for _, _, message, _ in babel_extract(f, ("_",), [], {}):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    found.add(msgid)
    return frozenset(found)


def complete(lang: str, name: str) -> bool:
    """True when ``lang`` translates every string of template ``name`` (English is the
    source language, so it is always complete)."""
    if lang == "en":
        return True
    return all(has_translation(lang, m, LOCALE_DIR) for m in template_messages(name))


def languages_for(lang: str, name: str) -> tuple[str, ...]:
    if lang in LANGUAGES and complete(lang, name):
        return (lang,)
    return ("ja", "en")


def map_url(venue: str) -> str:
    return f"https://www.google.com/maps/search/?api=1&query={quote(venue)}"


def _variables(lang: str, event: EventInfo, values: dict[str, Any]) -> dict[str, Any]:
    fmt = Formatter(lang)
    title = fmt.text(event.title)
    venue = fmt.text(event.venue)
    announcement = values.get("announcement") or {}
    a_subject = fmt.text(announcement.get("subject"))
    a_lang, a_body = fmt.paragraphs(announcement.get("body"))
    return {
        "lang": lang,
        "event": title.text,
        "event_lang": title.lang,
        "venue": venue.text,
        "venue_lang": venue.lang,
        "map_url": map_url(fmt.text({"ja": event.venue.get("ja", ""), **event.venue}).text),
        "date": fmt.date(event.starts_at, event.timezone),
        "times": fmt.times(event.starts_at, event.ends_at, event.timezone),
        "name": values.get("name", ""),
        "manage_url": values.get("manage_url"),
        "has_ticket": bool(values.get("ticket_id")),
        "ticket_number": ticket_number(values["ticket_id"]) if values.get("ticket_id") else "",
        "qr_cid": QR_CID,
        "position": fmt.number(int(values.get("position") or 0)),
        "announcement_subject": a_subject.text,
        "announcement_lang": a_lang,
        "announcement_body": a_body,
        "unsubscribe_url": values.get("unsubscribe_url", ""),
    }


def _blocks(name: str, lang: str, variables: dict[str, Any]) -> dict[str, str]:
    try:
        template = _env.get_template(f"{name}.html")
    except Exception as exc:  # jinja2.TemplateNotFound and syntax errors alike
        raise TemplateMissing(name) from exc
    t = translator(lang, LOCALE_DIR)
    # Rendering is synchronous, so installing this language's gettext is safe here.
    _env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    # Blocks are rendered one by one, so the shared macros are handed in as variables
    # (a template's own top-level imports would not reach its blocks).
    macros = _env.get_template("_event.html").make_module(variables)
    ctx = template.new_context(
        {
            **variables,
            **{name: getattr(macros, name) for name in MACROS},
        }
    )
    out = {k: "".join(template.blocks[k](ctx)).strip() for k in ("subject", "body", "sms")}
    out["footer"] = t.gettext(FOOTER)
    return out


_A = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)
_BREAKS = re.compile(r"<br\s*/?>|</tr>")
_BLOCK_END = re.compile(r"</(p|table|div|h\d)>")
_CELL_END = re.compile(r"</t[hd]>")


def to_text(body: str) -> str:
    """The plain-text part from the HTML one: links written out, furigana dropped."""

    def link(m: re.Match[str]) -> str:
        href, label = html.unescape(m.group(1)), m.group(2)
        return href if plain(label).strip() == href else f"{label} ( {href} )"

    text = _A.sub(link, body)
    text = _BREAKS.sub("\n", text)
    text = _CELL_END.sub(" ", text)
    text = _BLOCK_END.sub("\n\n", text)
    lines = [line.strip() for line in str(plain(text)).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def render(name: str, lang: str, event: EventInfo, values: dict[str, Any]) -> Rendered:
    """The message in the recipient's language (or Japanese + English side by side)."""
    langs = languages_for(lang, name)
    parts = [_blocks(name, code, _variables(code, event, values)) for code in langs]
    subject = " / ".join(str(plain(p["subject"])) for p in parts)
    shell = _env.get_template("shell.html")
    document = shell.render(
        lang=langs[0],
        subject=subject,
        parts=[
            {"lang": code, "body": Markup(p["body"]), "footer": Markup(p["footer"])}
            for code, p in zip(langs, parts, strict=True)
        ],
    )
    text = "\n\n----------\n\n".join(
        to_text(p["body"]) + "\n\n--\n" + str(plain(p["footer"])) for p in parts
    )
    sms = " / ".join(_one_line(str(plain(p["sms"]))) for p in parts)
    return Rendered(subject=subject, text=text, html=document, sms=sms, languages=langs)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def used_messages() -> Iterable[tuple[str, str, int]]:
    """(msgid, file, line) of every string the messages use, for the catalog script."""
    root = HERE.parents[1]
    # The console page's strings are in the "console" domain.
    templates = [p for p in sorted(TEMPLATES.glob("*.html")) if not p.name.startswith("console_")]
    yield from extract_messages([(p, babel_extract) for p in templates], root, {"_": None})
    yield FOOTER, str(Path(__file__).relative_to(root)), 40


def page(name: str, lang: str, **variables: Any) -> str:
    """A small web page of notify's (the unsubscribe link's), in ``lang``."""
    t = translator(lang, LOCALE_DIR)
    _env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    return _env.get_template(name).render(lang=lang, **variables)
