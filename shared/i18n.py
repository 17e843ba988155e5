"""Languages and message catalogs (gettext ``.po`` files read with Babel).

Catalogs are the ``.po`` files under a ``locale/<lang>/LC_MESSAGES/<domain>.po`` folder;
they are compiled in memory when first used, so there is no build step and no binary
file in the repository. Source strings (msgids) are English; a string missing in a
language falls back to Japanese, then English, the order the city asked for.
"""

from __future__ import annotations

import gettext
import io
from functools import cache, lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

# The languages every page and message speaks, then those the city has volunteers for.
CORE_LANGUAGES = ("ja", "en", "zh", "ko", "vi", "tl", "tr")
EXTRA_LANGUAGES = ("ne", "id", "th", "pt", "es")
LANGUAGES = CORE_LANGUAGES + EXTRA_LANGUAGES
DEFAULT_LANGUAGE = "ja"
FALLBACK_CHAIN = ("ja", "en")

# The name of each language in itself, for the language picker.
LANGUAGE_NAMES = {
    "ja": "日本語",
    "en": "English",
    "zh": "中文",
    "ko": "한국어",
    "vi": "Tiếng Việt",
    "tl": "Tagalog",
    "tr": "Türkçe",
    "ne": "नेपाली",
    "id": "Bahasa Indonesia",
    "th": "ไทย",
    "pt": "Português",
    "es": "Español",
}

SHARED_LOCALE_DIR = Path(__file__).parent / "locale"


def normalize(tag: str | None) -> str | None:
    """``zh-Hans-CN`` → ``zh``, ``fil`` → ``tl``, ``pt-BR`` → ``pt``; unknown → None."""
    if not tag:
        return None
    base = tag.strip().replace("_", "-").split("-")[0].lower()
    base = {"fil": "tl", "in": "id"}.get(base, base)
    return base if base in LANGUAGES else None


def negotiate(accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Pick the best supported language from an ``Accept-Language`` header."""
    if not accept_language:
        return default
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        pieces = part.strip().split(";")
        q = 1.0
        for p in pieces[1:]:
            p = p.strip()
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        lang = normalize(pieces[0])
        if lang and q > 0:
            choices.append((-q, i, lang))
    return sorted(choices)[0][2] if choices else default


@cache
def _catalog(locale_dir: Path, domain: str, lang: str) -> gettext.NullTranslations:
    po = locale_dir / lang / "LC_MESSAGES" / f"{domain}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


class Translator:
    """gettext for one language, falling back to Japanese then English."""

    def __init__(self, lang: str, *, locale_dirs: tuple[Path, ...], domain: str = "messages"):
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        chain = [self.lang, *[f for f in FALLBACK_CHAIN if f != self.lang]]
        # Source strings are English: reaching "en" in the chain means "use the msgid".
        self._catalogs = [(code, _catalog(d, domain, code)) for code in chain for d in locale_dirs]

    def gettext(self, message: str) -> str:
        for code, cat in self._catalogs:
            if code == "en":
                return message
            if _has(cat, message):
                # A translation may equal the English ("Email" in Vietnamese): it counts.
                return cat.gettext(message)
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        for code, cat in self._catalogs:
            if code == "en":
                break
            translated = cat.ngettext(singular, plural, n)
            if translated not in (singular, plural):
                return translated
        return singular if n == 1 else plural


def _has(cat: gettext.NullTranslations, message: str) -> bool:
    entries: dict[str, str] = getattr(cat, "_catalog", None) or {}
    return bool(entries.get(message))


@lru_cache(maxsize=256)
def translator(lang: str, *extra_dirs: Path) -> Translator:
    """The translator of a language (one per language and folders: it holds nothing that
    changes, and every API answer asks for one)."""
    return Translator(lang, locale_dirs=(*extra_dirs, SHARED_LOCALE_DIR))


def has_translation(lang: str, message: str, *extra_dirs: Path) -> bool:
    """True when ``lang``'s own catalog translates ``message`` (no fallback)."""
    return any(
        _has(_catalog(d, "messages", lang), message) for d in (*extra_dirs, SHARED_LOCALE_DIR)
    )
