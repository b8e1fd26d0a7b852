"""How members are shown to other members (pure functions, no queries)."""

import unicodedata

# Thai leading vowels (เ แ โ ใ ไ) are written before the consonant they follow in speech:
# alone they say nothing of a name, so they go with the next character.
THAI_LEADING_VOWELS = frozenset("เแโใไ")
MASK = "***"


def _letters(text: str) -> list[str]:
    """``text`` cut into letters as a reader sees them: a character with its combining marks
    (Thai vowel signs above or below, tone marks) and a Thai leading vowel with the next one."""
    letters: list[str] = []
    glued = False
    for char in text:
        if letters and (glued or unicodedata.combining(char) or unicodedata.category(char) == "Mn"):
            letters[-1] += char
        else:
            letters.append(char)
        glued = char in THAI_LEADING_VOWELS
    return letters


def mask_name(first_name: str | None, display_name: str | None = "") -> str:
    """What other members see of a member's name (leaderboards, lucky-draw winners): the first
    three letters of the first name (the LINE display name when there is none) and ``***``.

    "สมชาย" → "สมช***", "Somchai" → "Som***"; a name of three letters or fewer keeps one
    ("Nok" → "N***"); no name at all is "***". The last name is never shown.

    Letters are counted as a reader sees them, so Thai is never cut inside a syllable's marks:
    vowel signs and tone marks stay with their consonant ("สุนทร" → "สุนท***", "นกน้อย" →
    "นกน้***"), and a leading vowel goes with the consonant after it ("ไพโรจน์" → "ไพโรจ***").

    Why this style: it is the one the LIFF pages already showed most (every race page lists the
    top N this way; only a draw's few winners used "So*** J."), and a last-name initial says
    more about a member than other members need.
    """
    name = (first_name or "").strip() or (display_name or "").strip()
    if not name:
        return MASK
    letters = _letters(name)
    return "".join(letters[:3] if len(letters) > 3 else letters[:1]) + MASK
