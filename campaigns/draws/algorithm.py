"""The verifiable lucky-draw algorithm: pure Python, no Django, so anyone can re-run it.

``docs/campaigns-draws.md`` describes it for implementers in other languages:

1. Canonical entry list: ``(member_id, tickets)`` pairs with ``tickets > 0``, sorted by
   ``member_id`` ascending (each member once).
2. For prize slot ``k = 1, 2, …`` (slot 1 is the first prize): ``total`` is the number of
   tickets still in the list; ``h = HMAC-SHA256(key=seed, message=ASCII decimal of k)``
   read as a big-endian unsigned integer; ``r = h mod total``.
3. Walk the remaining entries in order, adding up their tickets; the winner is the first
   entry whose running sum exceeds ``r``. Remove the winner (without replacement) and go
   on with the next slot until every slot is filled or nobody is left.

``h`` has 256 bits and ``total`` is far below 2**64, so the modulo bias is below 2**-190.
"""

import hashlib
import hmac

SEED_BYTES = 32


def seed_hash(seed: bytes) -> str:
    """The commitment published before entries close: SHA-256 of the raw seed bytes, hex."""
    return hashlib.sha256(seed).hexdigest()


def slot_number(seed: bytes, slot: int) -> int:
    """``HMAC-SHA256(seed, str(slot))`` as a big-endian integer."""
    digest = hmac.new(seed, str(slot).encode("ascii"), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def canonical_entries(entries) -> list[tuple[int, int]]:
    """``(member_id, tickets)`` sorted by member id, without empty entries; a member listed twice is an error."""
    pairs = [(int(member_id), int(tickets)) for member_id, tickets in entries]
    if any(tickets < 0 for _, tickets in pairs):
        raise ValueError("ticket counts cannot be negative")
    cleaned = sorted(pair for pair in pairs if pair[1] > 0)
    for (previous, _), (current, _tickets) in zip(cleaned, cleaned[1:], strict=False):
        if previous == current:
            raise ValueError(f"member {current} appears twice in the entry list")
    return cleaned


def draw_winners(seed: bytes, entries: list[tuple[int, int]], slots: int) -> list[int]:
    """Member ids of the winners of slots 1..``slots``, in slot order (fewer when members run out).

    Weighted by tickets, without replacement: a member wins at most once. Deterministic in
    ``seed`` and the set of entries (their order in ``entries`` does not matter).
    """
    if len(seed) != SEED_BYTES:
        raise ValueError(f"the seed must be {SEED_BYTES} bytes")
    remaining = canonical_entries(entries)
    total = sum(tickets for _, tickets in remaining)
    winners: list[int] = []
    for slot in range(1, slots + 1):
        if not remaining:
            break
        target = slot_number(seed, slot) % total
        running = 0
        for index, (member_id, tickets) in enumerate(remaining):
            running += tickets
            if running > target:
                winners.append(member_id)
                total -= tickets
                del remaining[index]
                break
    return winners
