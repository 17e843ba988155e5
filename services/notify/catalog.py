"""Notify's message catalogs: the mail and SMS templates ("messages") and the organizers'
page ("console").

Run ``python -m services.notify.catalog`` after adding or changing a string in
``templates/``: it rewrites ``locale/messages.pot`` and merges it into every language's
catalog; the catalog tests fail until the new strings are translated.
"""

from __future__ import annotations

from services.notify import console
from services.notify.render import LOCALE_DIR, used_messages
from shared.catalogs import CatalogFiles, main
from shared.i18n import LANGUAGES

CATALOG = CatalogFiles(LOCALE_DIR, "messages", "Tomoni notify", used_messages)
# The organizers' page (staff-facing, like the registration console: no furigana).
CONSOLE = CatalogFiles(LOCALE_DIR, console.DOMAIN, "Tomoni notify console", console.used_messages)

if __name__ == "__main__":
    main(CATALOG, LANGUAGES)
    main(CONSOLE, LANGUAGES)
