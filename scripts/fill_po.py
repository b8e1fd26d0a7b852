"""Write the Thai catalogue's msgstr values from scripts/th_translations.py (the source of truth).

Run by `make messages` after makemessages; fuzzy guesses made by msgmerge are replaced too.
"""

import ast
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from th_translations import TH  # noqa: E402

PO = Path(__file__).resolve().parent.parent / "locale/th/LC_MESSAGES/django.po"
ENTRY = re.compile(r'^msgid ((?:".*"\n)+)msgstr (?:".*"\n)+', re.M)


def fill(text: str) -> tuple[str, list[str]]:
    missing = []
    text = re.sub(r"^#\| .*\n", "", text, flags=re.M)  # msgmerge's previous msgids
    text = re.sub(r"^#, fuzzy\n", "", text, flags=re.M)
    text = re.sub(r"^#, fuzzy, ", "#, ", text, flags=re.M)

    def replace(match):
        msgid = "".join(ast.literal_eval(part) for part in match.group(1).splitlines())
        if not msgid:
            return match.group(0)
        translation = TH.get(msgid, "")
        if not translation:
            missing.append(msgid)
        escaped = translation.replace("\\", "\\\\").replace('"', '\\"')
        return f'msgid {match.group(1)}msgstr "{escaped}"\n'

    return ENTRY.sub(replace, text), missing


if __name__ == "__main__":
    text, missing = fill(PO.read_text())
    text = text.replace('"Content-Type: text/plain; charset=CHARSET\\n"', '"Content-Type: text/plain; charset=UTF-8\\n"')
    text = re.sub(r'"Plural-Forms: .*\\n"', r'"Plural-Forms: nplurals=1; plural=0;\\n"', text)
    PO.write_text(text)
    for msgid in missing:
        print("untranslated:", msgid)
