"""Claim codes as text: derivation from a batch secret, display, normalisation, digest.

A code is 16 symbols of ``MEMBER_CODE_ALPHABET`` (32 symbols, 5 bits each: 80 bits),
shown as ``XXXX-XXXX-XXXX-XXXX``. Code number ``n`` of a batch is the first 80 bits of
``HMAC-SHA256(batch secret, "claim-code:n")``, so the printable files can be rebuilt from
the secret while the database keeps only ``SHA-256(code)``.
"""

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

from members.models import MEMBER_CODE_ALPHABET

CODE_LENGTH = 16
GROUP = 4
_ALLOWED = frozenset(MEMBER_CODE_ALPHABET)


def code_derive(secret: bytes, number: int) -> str:
    """The normalised code number ``number`` (1-based) of the batch with ``secret``."""
    mac = hmac.new(secret, f"claim-code:{number}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(mac[:10], "big")  # 80 bits
    symbols = []
    for _ in range(CODE_LENGTH):
        value, index = divmod(value, 32)
        symbols.append(MEMBER_CODE_ALPHABET[index])
    return "".join(symbols)


def code_display(code: str) -> str:
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def code_normalise(raw: str) -> str:
    """Upper-case letters and digits only, so ``abcd efgh-…`` matches ``ABCDEFGH…``.

    A scanned QR holds the claim URL (``…/claim/?code=XXXX-…``); its ``code`` parameter is used.
    """
    raw = (raw or "").strip()[:500]
    if "?" in raw and "code=" in raw:
        raw = parse_qs(urlsplit(raw).query).get("code", [""])[0]
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def code_is_well_formed(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in _ALLOWED for ch in code)


def code_digest(code: str) -> str:
    """SHA-256 (hex) of a normalised code: the only form a code is stored in."""
    return hashlib.sha256(code.encode()).hexdigest()
