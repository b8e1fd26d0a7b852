"""The pure draw algorithm: deterministic, weighted by tickets, without replacement."""

import hashlib

import pytest

from campaigns.draws.algorithm import canonical_entries, draw_winners, seed_hash, slot_number

SEED = bytes(range(32))  # 000102…1f, the worked example in docs/campaigns-draws.md


def test_the_documented_example_gives_the_documented_winners():
    assert seed_hash(SEED) == "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
    assert slot_number(SEED, 1) % 10 == 1  # HMAC-SHA256(seed, "1") = 7761b1cc…, mod 10 tickets
    assert draw_winners(SEED, [(1, 1), (2, 2), (3, 3), (4, 4)], 4) == [2, 1, 4, 3]


def test_the_order_of_the_entry_list_does_not_matter():
    entries = [(4, 4), (1, 1), (3, 3), (2, 2)]
    assert draw_winners(SEED, entries, 4) == draw_winners(SEED, sorted(entries), 4) == [2, 1, 4, 3]


def test_a_member_never_wins_twice_and_extra_prizes_stay_unwon():
    winners = draw_winners(SEED, [(7, 50), (8, 1), (9, 1)], 10)
    assert sorted(winners) == [7, 8, 9]
    assert len(winners) == 3


def test_fewer_slots_are_a_prefix_of_more_slots():
    entries = [(member_id, member_id % 5 + 1) for member_id in range(1, 41)]
    full = draw_winners(SEED, entries, 40)
    assert sorted(full) == list(range(1, 41))
    assert draw_winners(SEED, entries, 3) == full[:3]


def test_winning_is_weighted_by_tickets():
    wins = {1: 0, 2: 0}
    for index in range(4000):
        seed = hashlib.sha256(str(index).encode()).digest()
        wins[draw_winners(seed, [(1, 3), (2, 1)], 1)[0]] += 1
    assert 2800 < wins[1] < 3200  # three tickets of four: about 3,000 of 4,000
    assert wins[1] + wins[2] == 4000


def test_members_without_tickets_cannot_win_and_bad_input_is_refused():
    assert draw_winners(SEED, [(1, 0), (2, 1)], 2) == [2]
    assert draw_winners(SEED, [], 3) == []
    assert canonical_entries([(3, 1), (1, 0), (2, 2)]) == [(2, 2), (3, 1)]
    with pytest.raises(ValueError, match="appears twice"):
        draw_winners(SEED, [(1, 1), (1, 2)], 1)
    with pytest.raises(ValueError, match="negative"):
        draw_winners(SEED, [(1, -1)], 1)
    with pytest.raises(ValueError, match="32 bytes"):
        draw_winners(b"short", [(1, 1)], 1)
