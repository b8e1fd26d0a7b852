"""Re-run a lucky draw from its exported entries and revealed seed, without the platform.

Usage::

    python -m campaigns.draws.verify entries.csv <seed hex> [--slots N] [--results results.csv]

``entries.csv`` is the entries export (columns ``member_id`` and ``tickets``; others are
ignored). Prints the SHA-256 of the seed (compare it with the hash published before entries
closed) and the winner of every slot. With ``--results`` (the results export) it compares
slot by slot and exits with status 1 on any difference. Needs only the standard library.
"""

import argparse
import csv
import sys

from .algorithm import SEED_BYTES, draw_winners, seed_hash


def read_entries(path: str) -> list[tuple[int, int]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [(int(row["member_id"]), int(row["tickets"])) for row in csv.DictReader(handle)]


def read_results(path: str) -> dict[int, int]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return {int(row["slot"]): int(row["member_id"]) for row in csv.DictReader(handle)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m campaigns.draws.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", help="the entries CSV export")
    parser.add_argument("seed", help="the revealed seed (64 hex digits)")
    parser.add_argument("--slots", type=int, help="number of prize slots (default: rank every entry)")
    parser.add_argument("--results", help="the results CSV export to compare with")
    args = parser.parse_args(argv)
    try:
        seed = bytes.fromhex(args.seed.strip())
    except ValueError:
        parser.error("the seed must be hexadecimal")
    if len(seed) != SEED_BYTES:
        parser.error(f"the seed must be {SEED_BYTES} bytes ({SEED_BYTES * 2} hex digits)")
    entries = read_entries(args.entries)
    expected = read_results(args.results) if args.results else None
    slots = args.slots or (max(expected, default=0) if expected else len(entries))
    winners = draw_winners(seed, entries, slots)
    print(f"seed sha256: {seed_hash(seed)}")
    print(f"entries: {sum(1 for _, tickets in entries if tickets > 0)}, tickets: {sum(t for _, t in entries)}")
    for slot, member_id in enumerate(winners, start=1):
        print(f"slot {slot}: member {member_id}")
    if expected is None:
        return 0
    drawn = dict(enumerate(winners, start=1))
    differences = [slot for slot in sorted(set(drawn) | set(expected)) if drawn.get(slot) != expected.get(slot)]
    for slot in differences:
        print(f"MISMATCH slot {slot}: re-run {drawn.get(slot)}, results {expected.get(slot)}")
    print("OK: the results match the re-run" if not differences else f"{len(differences)} slot(s) differ")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
