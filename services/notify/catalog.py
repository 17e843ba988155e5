"""Notify's message catalog: the strings of the mail and SMS templates.

Run ``python -m services.notify.catalog`` after adding or changing a string in
``templates/``: it rewrites ``locale/messages.pot`` and merges it into every language's
catalog; the catalog tests fail until the new strings are translated.
"""

from __future__ import annotations

from services.notify.render import LOCALE_DIR, used_messages
from shared.catalogs import CatalogFiles, main
from shared.i18n import LANGUAGES

CATALOG = CatalogFiles(LOCALE_DIR, "messages", "Tomoni notify", used_messages)

if __name__ == "__main__":
    main(CATALOG, LANGUAGES)
