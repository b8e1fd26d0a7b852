"""Standings of top spender races: maintained from purchase, refund and points events."""

import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction

from campaigns.leaderboards import selectors
from campaigns.leaderboards.errors import RaceAlreadyEnded, RaceNotDraft
from campaigns.leaderboards.models import Race, RaceContribution, Standing
from campaigns.leaderboards.services import (
    points_entry_count,
    purchase_count,
    race_activate,
    race_period_bounds,
)
from loyalty.models import LedgerEntry, MemberTier, Purchase, Tier, TierProgram
from loyalty.services.earning import purchase_record
from loyalty.services.ledger import Channel
from tests import factories

from .conftest import bangkok, make_race

START, END = bangkok(2026, 11, 1), bangkok(2026, 12, 1)


def standing(race, member) -> tuple[Decimal, object] | None:
    row = Standing.objects.filter(race=race, member=member).first()
    return (row.value, row.reached_at) if row else None


def test_a_week_and_a_month_are_bangkok_calendar_periods():
    # 2026-11-25 20:30 UTC is Thursday 26 November 03:30 in Bangkok.
    moment = bangkok(2026, 11, 26, 3, 30).astimezone(bangkok(2026, 1, 1).tzinfo)
    assert race_period_bounds(period="week", starts_at=moment) == (bangkok(2026, 11, 23), bangkok(2026, 11, 30))
    assert race_period_bounds(period="month", starts_at=moment) == (bangkok(2026, 11, 1), bangkok(2026, 12, 1))
    assert race_period_bounds(period="month", starts_at=bangkok(2026, 12, 31, 23, 59)) == (
        bangkok(2026, 12, 1), bangkok(2027, 1, 1))


def test_purchases_add_up_and_those_outside_the_period_are_ignored(brand, buy):
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand)

    buy(member, "120.00", bangkok(2026, 10, 31, 23, 59), "before")
    buy(member, "300.00", bangkok(2026, 11, 3, 10, 0), "inside-1")
    buy(member, "200.50", bangkok(2026, 11, 20, 18, 0), "inside-2")
    buy(member, "999.00", bangkok(2026, 12, 1, 0, 0), "after")  # the end is exclusive

    assert standing(race, member) == (Decimal("500.50"), bangkok(2026, 11, 20, 18, 0))


def test_a_refund_lowers_the_standing_and_keeps_when_the_amount_was_reached(brand, buy, refund):
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand)
    purchase = buy(member, "800.00", bangkok(2026, 11, 5, 12, 0), "P-1")
    buy(member, "100.00", bangkok(2026, 11, 6, 12, 0), "P-2")

    refund(purchase, "250.00")
    assert standing(race, member) == (Decimal("650.00"), bangkok(2026, 11, 6, 12, 0))
    refund(purchase, "550.00")  # the rest
    assert standing(race, member) == (Decimal("100.00"), bangkok(2026, 11, 6, 12, 0))


def test_a_refund_of_a_purchase_that_did_not_count_changes_nothing(brand, buy, refund):
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand)
    before = buy(member, "400.00", bangkok(2026, 10, 20, 12, 0), "old")
    buy(member, "100.00", bangkok(2026, 11, 2, 12, 0), "new")

    refund(before, "400.00")

    assert standing(race, member) == (Decimal("100.00"), bangkok(2026, 11, 2, 12, 0))


def test_ties_go_to_who_reached_the_amount_first(brand, buy):
    race = make_race(brand, starts_at=START, ends_at=END, top_n=3)
    early, late, top = (factories.MemberFactory(brand=brand, first_name=name) for name in ("Early", "Late", "Top"))
    buy(late, "500.00", bangkok(2026, 11, 3, 9, 0), "L-1")
    buy(early, "200.00", bangkok(2026, 11, 2, 9, 0), "E-1")
    buy(early, "300.00", bangkok(2026, 11, 2, 18, 0), "E-2")  # reaches 500 on the 2nd, before Late
    buy(top, "501.00", bangkok(2026, 11, 10, 9, 0), "T-1")

    top_rows = selectors.leaderboard_top(race=race)
    assert [(row.rank, row.member_id, row.value) for row in top_rows] == [
        (1, top.pk, Decimal("501.00")), (2, early.pk, Decimal("500.00")), (3, late.pk, Decimal("500.00"))]
    late_position = selectors.member_position(race=race, member=late)
    assert (late_position.rank, late_position.gap, late_position.target_rank) == (3, Decimal("0.00"), 2)
    early_position = selectors.member_position(race=race, member=early)
    assert (early_position.rank, early_position.gap, early_position.target_rank) == (2, Decimal("1.00"), 1)


def test_a_member_outside_the_top_n_sees_the_gap_to_number_n(brand, buy):
    race = make_race(brand, starts_at=START, ends_at=END, top_n=2)
    spends = {"A": "900", "B": "700", "C": "650", "D": "100"}
    members = {}
    for index, (name, total) in enumerate(spends.items()):
        members[name] = factories.MemberFactory(brand=brand, first_name=name)
        buy(members[name], total, bangkok(2026, 11, 2 + index, 10, 0), f"O-{name}")

    position = selectors.member_position(race=race, member=members["D"])

    assert (position.rank, position.target_rank, position.gap, position.in_top) == (4, 2, Decimal("600.00"), False)
    assert selectors.member_position(race=race, member=factories.MemberFactory(brand=brand)) is None


def test_only_members_of_the_audience_tiers_take_part(brand, buy):
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    silver = Tier.objects.create(brand=brand, code="silver", name="ซิลเวอร์", rank=1)
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", rank=2, threshold=Decimal("100000"))
    race = make_race(brand, starts_at=START, ends_at=END, tiers=[gold])
    gold_member, silver_member, no_row = (factories.MemberFactory(brand=brand) for _ in range(3))
    MemberTier.objects.create(member=gold_member, brand=brand, tier=gold)
    MemberTier.objects.create(member=silver_member, brand=brand, tier=silver)

    for member in (gold_member, silver_member, no_row):
        buy(member, "300.00", bangkok(2026, 11, 4, 10, 0), f"A-{member.pk}")

    assert standing(race, gold_member) == (Decimal("300.00"), bangkok(2026, 11, 4, 10, 0))
    assert standing(race, silver_member) is None
    assert standing(race, no_row) is None  # no tier row: the entry tier (Silver), not in the audience
    assert [race.pk for race in selectors.races_for_member(member=silver_member)] == []


def test_a_redelivered_purchase_event_counts_once(brand, buy):
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand)
    purchase = buy(member, "250.00", bangkok(2026, 11, 4, 10, 0), "R-1")

    assert purchase_count(purchase_id=purchase.pk) == 0  # a retried task
    assert standing(race, member) == (Decimal("250.00"), bangkok(2026, 11, 4, 10, 0))
    assert RaceContribution.objects.filter(race=race).count() == 1


def test_starting_a_race_backfills_the_period_so_far_and_later_purchases_count_once(brand, buy, refund):
    member, other = factories.MemberFactory(brand=brand), factories.MemberFactory(brand=brand)
    first = buy(member, "400.00", bangkok(2026, 11, 2, 10, 0), "B-1")
    buy(member, "100.00", bangkok(2026, 11, 3, 10, 0), "B-2")
    refund(first, "150.00")
    buy(other, "999.00", bangkok(2026, 10, 30, 10, 0), "B-old")
    race = make_race(brand, starts_at=START, ends_at=END, activate=False)

    race = race_activate(race_id=race.pk, now=bangkok(2026, 11, 10))
    assert race.status == Race.Status.ACTIVE
    assert standing(race, member) == (Decimal("350.00"), bangkok(2026, 11, 3, 10, 0))
    assert standing(race, other) is None

    buy(member, "50.00", bangkok(2026, 11, 11, 10, 0), "B-3")
    refund(first, "250.00")  # the rest of a backfilled purchase
    assert standing(race, member) == (Decimal("150.00"), bangkok(2026, 11, 11, 10, 0))
    with pytest.raises(RaceNotDraft):
        race_activate(race_id=race.pk, now=bangkok(2026, 11, 12))
    late = make_race(brand, starts_at=START, ends_at=END, activate=False)
    with pytest.raises(RaceAlreadyEnded):
        race_activate(race_id=late.pk, now=END)


def test_a_points_race_counts_earns_and_takes_back_their_reversals(brand, buy, refund):
    race = make_race(brand, starts_at=START, ends_at=END, metric=Race.Metric.POINTS)
    member = factories.MemberFactory(brand=brand)
    # 25 THB = 1 point: 1,000 THB earns 40 points, 500 THB earns 20.
    purchase = buy(member, "1000.00", bangkok(2026, 11, 5, 10, 0), "PT-1")
    buy(member, "500.00", bangkok(2026, 11, 6, 10, 0), "PT-2")
    factories.give_points(member, 500, key="staff-adjust")  # an adjustment is not "earned"
    earned = list(LedgerEntry.objects.filter(account__member=member, kind="earn").order_by("id"))
    assert [entry.amount for entry in earned] == [40, 20]
    value, _reached_at = standing(race, member)
    assert value == Decimal("60")

    refund(purchase, "500.00")  # reverses 20 of the 40

    assert standing(race, member)[0] == Decimal("40")
    assert points_entry_count(entry_id=earned[0].pk) == 0  # replayed: counted once


def test_a_points_race_ignores_earns_outside_its_period(brand, buy):
    race = make_race(brand, starts_at=bangkok(2026, 11, 1), ends_at=bangkok(2026, 11, 2),
                     metric=Race.Metric.POINTS)
    member = factories.MemberFactory(brand=brand)
    buy(member, "1000.00", bangkok(2026, 11, 5, 10, 0), "PT-late")  # the entry is written now, after the race
    assert standing(race, member) is None


def test_the_rank_query_matches_a_ranking_computed_in_python(brand):
    race = make_race(brand, starts_at=START, ends_at=END, top_n=5)
    generator = random.Random(8)
    members = [factories.MemberFactory(brand=brand) for _ in range(40)]
    rows = []
    for member in members:
        value = Decimal(generator.choice([100, 250, 250, 400, 400, 400, 999]))
        reached_at = START + timedelta(hours=generator.choice([1, 2, 2, 3]))
        rows.append(Standing(race=race, member=member, value=value, reached_at=reached_at, updated_at=END))
    Standing.objects.bulk_create(rows)
    expected = sorted(rows, key=lambda row: (-row.value, row.reached_at, row.member_id))

    for rank, row in enumerate(expected, start=1):
        position = selectors.member_position(race=race, member=row.member)
        assert position.rank == rank
        assert position.ahead_value == (expected[rank - 2].value if rank > 1 else None)
        assert position.nth_value == expected[4].value
    assert [row.member_id for row in selectors.leaderboard_top(race=race)] == [row.member_id for row in expected[:5]]


def test_the_member_rank_is_one_query(brand, django_assert_num_queries):
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand)
    Standing.objects.create(race=race, member=member, value=Decimal("10"), reached_at=START, updated_at=START)
    with django_assert_num_queries(1):
        assert selectors.member_position(race=race, member=member).rank == 1


def test_the_leaderboard_shows_masked_names(brand, buy):
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand, first_name="สมชาย")
    buy(member, "100.00", bangkok(2026, 11, 4, 10, 0), "M-1")
    assert [row.name for row in selectors.leaderboard_top(race=race)] == ["สมช***"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_purchases_never_lose_an_increment():
    brand = factories.brand_with_program()
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand)
    threads_count, per_thread = 8, 5
    barrier = threading.Barrier(threads_count)
    errors = []

    def shop(thread: int) -> None:
        try:
            barrier.wait()
            for number in range(per_thread):
                with transaction.atomic():
                    purchase_record(brand=brand, member=member, channel=Channel.POS,
                                    order_id=f"T{thread}-{number}", total=Decimal("10.25"), lines=[],
                                    purchased_at=bangkok(2026, 11, 5, 10, thread, number))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=shop, args=(index,)) for index in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Purchase.objects.filter(member=member).count() == 40
    assert standing(race, member) == (Decimal("410.00"), bangkok(2026, 11, 5, 10, 7, 4))
    assert RaceContribution.objects.filter(race=race, member=member).count() == 40
