"""The Thai catalogue is complete and its committed .mo matches the .po."""

import ast
import gettext
import re
from pathlib import Path

from django.utils import translation

from loyalty.errors import InsufficientPoints

LOCALE = Path(__file__).resolve().parent.parent / "locale/th/LC_MESSAGES"
ENTRY = re.compile(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', re.M)


def po_entries() -> dict[str, str]:
    entries = {}
    for match in ENTRY.finditer((LOCALE / "django.po").read_text()):
        msgid, msgstr = ("".join(ast.literal_eval(p) for p in group.splitlines()) for group in match.groups())
        if msgid:
            entries[msgid] = msgstr
    return entries


def test_every_message_has_a_thai_translation():
    untranslated = [msgid for msgid, msgstr in po_entries().items() if not msgstr]
    assert untranslated == []
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text()  # fuzzy entries are not compiled


def test_compiled_catalogue_matches_the_po_file():
    with (LOCALE / "django.mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    stale = {msgid for msgid, msgstr in po_entries().items() if catalog.gettext(msgid) != msgstr}
    assert stale == set(), "run `make messages` and commit django.mo"


def test_thai_is_served_when_asked():
    with translation.override("th"):
        assert str(InsufficientPoints.message) == "แต้มไม่พอ"
    with translation.override("en"):
        assert str(InsufficientPoints.message) == "Not enough points."
