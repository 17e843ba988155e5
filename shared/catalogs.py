"""Keeping a message catalog in step with the code: the ``.pot`` template holds exactly
the strings in use, and each language's ``.po`` gets new strings (untranslated, so the
catalog tests fail until someone translates them) and loses those no longer used.

Each catalog owner (a service's pages, the console, the scanner, the mail templates)
says which strings it uses; this module does the rest. Run the owner's ``catalog``
script after adding or changing a string; translations are edited in the ``.po`` files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po

from shared.i18n import LANGUAGES

Used = Callable[[], Iterable[tuple[str, str, int]]]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# A source file and how to read it: "python", or an extractor such as Jinja2's.
Source = tuple[Path, Any]


MARKS: dict[str, Any] = {"_": None, "N_": None}  # _("…") and N_("…"), Babel's form


def extract_messages(
    sources: Iterable[Source], root: Path, keywords: Mapping[str, Any] = MARKS
) -> Iterator[tuple[str, str, int]]:
    """(msgid, path relative to ``root``, line) of every string marked with one of
    ``keywords`` (Babel's keyword specs) in ``sources``."""
    for path, method in sources:
        with path.open("rb") as f:
            for lineno, message, _comments, _context in extract(
                method, f, keywords=dict(keywords), comment_tags=()
            ):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    yield msgid, str(path.relative_to(root)), lineno


@dataclass(frozen=True)
class CatalogFiles:
    locale_dir: Path
    domain: str
    project: str
    used: Used
    header_comment: str | None = None

    @property
    def pot(self) -> Path:
        return self.locale_dir / f"{self.domain}.pot"

    def po_path(self, lang: str) -> Path:
        return self.locale_dir / lang / "LC_MESSAGES" / f"{self.domain}.po"

    def shipped_languages(self) -> list[str]:
        """Languages with a catalog (English is the source: it has none)."""
        return [lang for lang in LANGUAGES if lang != "en" and self.po_path(lang).exists()]

    def read(self, path: Path, lang: str | None = None) -> Catalog:
        with path.open("rb") as f:
            return read_po(f, locale=lang, domain=self.domain)

    def template(self) -> Catalog:
        catalog = Catalog(
            domain=self.domain,
            project=self.project,
            version="0.1.0",
            creation_date=datetime(2026, 11, 28, tzinfo=UTC),
            charset="utf-8",
        )
        if self.header_comment:
            catalog.header_comment = self.header_comment
        for msgid, path, line in self.used():
            flags = ("python-format",) if "%(" in msgid else ()
            if msgid in catalog:
                catalog[msgid].locations.append((path, line))
            else:
                catalog.add(msgid, locations=[(path, line)], flags=flags)
        return catalog

    def write(self, path: Path, catalog: Catalog) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, ignore_obsolete=True, sort_output=False)

    def out_of_step(self) -> list[str]:
        """Strings in use but not in the template, or in it but no longer used."""
        used = {msgid for msgid, _path, _line in self.used()}
        held = {str(m.id) for m in self.read(self.pot) if m.id}
        return sorted(used ^ held)

    def faults(self, lang: str, *, markup: bool = False) -> list[str]:
        """What is wrong with one language's catalog, as ``problem: msgid``: a string of
        the template not translated, fuzzy, with other placeholders than the source, or
        (unless ``markup`` is allowed) holding markup characters."""
        held = {str(m.id) for m in self.read(self.pot) if m.id}
        catalog = self.read(self.po_path(lang), lang)
        found = [f"untranslated: {m}" for m in sorted(held) if m not in catalog]
        for m in catalog:
            if not m.id:
                continue
            text = str(m.string)
            if not text:
                found.append(f"untranslated: {m.id}")
            if m.fuzzy:
                found.append(f"fuzzy: {m.id}")
            if sorted(_PLACEHOLDER.findall(str(m.id))) != sorted(_PLACEHOLDER.findall(text)):
                found.append(f"placeholders: {m.id}")
            if not markup and any(c in text for c in "<>&"):
                found.append(f"markup: {m.id}")
        return found

    def update(self, languages: Iterable[str] = ()) -> list[str]:
        """Rewrite the template and merge it into every shipped language's catalog (and
        start a catalog for each of ``languages`` that has none yet). Returns the strings
        left untranslated, as ``lang: msgid``."""
        template = self.template()
        self.write(self.pot, template)
        untranslated: list[str] = []
        for lang in sorted({*self.shipped_languages(), *languages} - {"en"}):
            path = self.po_path(lang)
            if path.exists():
                catalog = self.read(path, lang)
            else:
                catalog = Catalog(locale=lang, domain=self.domain, project=self.project)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            self.write(path, catalog)
            untranslated += [f"{lang}: {m.id}" for m in catalog if m.id and not m.string]
        return untranslated


def main(files: CatalogFiles, languages: Iterable[str] = ()) -> None:
    """What each owner's ``python -m …catalog`` runs."""
    for line in files.update(languages):
        print("untranslated", line)
