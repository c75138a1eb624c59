"""The knowledge base shipped with the product: FAQ entries for the fictional "Northwind Market".

One JSON file per language in `knowledge_base/default/`, in the same format `import_json`
reads, so the shipped data passes exactly the checks an admin's import does. A new install
seeds its empty knowledge base from here; admins then edit or replace it.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

from knowledge_base.formats import import_json
from knowledge_base.model import Entry

DEFAULT_LANGUAGES = ("en", "fa", "ar", "zh")
# Every default entry hands off to one of these; the router's default skills must include them.
DEFAULT_SKILLS = ("orders", "shipping", "returns", "billing", "accounts", "general")


def load_default_entries(languages: Iterable[str] = DEFAULT_LANGUAGES) -> list[Entry]:
    """The default entries for `languages` (all shipped ones by default), in file order.

    Raises ImportFailed if a packaged file is broken (a packaging bug worth failing loudly
    on) and ValueError for a language that is not shipped.
    """
    entries: list[Entry] = []
    folder = resources.files("knowledge_base") / "default"
    for language in languages:
        if language not in DEFAULT_LANGUAGES:
            raise ValueError(
                f"no default knowledge base for {language!r}; have {DEFAULT_LANGUAGES}"
            )
        entries.extend(import_json((folder / f"{language}.json").read_bytes()))
    return entries
