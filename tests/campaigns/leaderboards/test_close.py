"""Closing top spender races: frozen results, prizes once, LINE notices, the beat task."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.leaderboards import selectors
from campaigns.leaderboards.models import Race, RaceResult, Standing
from campaigns.leaderboards.services import race_close
from campaigns.leaderboards.tasks import close_due_races
from loyalty.models import Coupon, LedgerEntry, PointAccount
from loyalty.services.verification import ledger_mismatches
from messaging.models import OutboundMessage
from tests import factories

from .conftest import bangkok, make_race

START, END = bangkok(2026, 11, 1), bangkok(2026, 12, 1)
AFTER = END + timedelta(minutes=15)


def seed_standings(race, values):
    """Members with the given values, reached one hour apart in the order given."""
    members = []
    for index, value in enumerate(values):
        member = factories.MemberFactory(brand=race.brand, first_name=f"Member{index}", language="en")
        Standing.objects.create(race=race, member=member, value=Decimal(value),
                                reached_at=START + timedelta(hours=index), updated_at=START)
        members.append(member)
    return members


def balance(member) -> int:
    account = PointAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def test_close_freezes_the_ranking_grants_prizes_and_notifies_the_winners(brand):
    voucher = factories.RewardFactory(brand=brand, name="คูปอง 100 บาท", name_en="100 THB voucher", stock=5)
    race = make_race(brand, starts_at=START, ends_at=END, top_n=3,
                     prizes=[(1, 1, 1000, voucher), (2, 3, 300, None)])
    first, second, third, fourth, refunded = seed_standings(race, ["900", "700", "700", "50", "0"])

    result = race_close(race_id=race.pk, now=AFTER)

    assert result.ranked == 4  # a value of 0 is not ranked
    race.refresh_from_db()
    assert (race.status, race.closed_at) == (Race.Status.CLOSED, AFTER)
    frozen = list(RaceResult.objects.filter(race=race).order_by("rank")
                  .values_list("rank", "member_id", "value", "prize_points"))
    assert frozen == [(1, first.pk, Decimal("900.00"), 1000), (2, second.pk, Decimal("700.00"), 300),
                      (3, third.pk, Decimal("700.00"), 300), (4, fourth.pk, Decimal("50.00"), 0)]
    assert [balance(m) for m in (first, second, third, fourth, refunded)] == [1000, 300, 300, 0, 0]
    entry = LedgerEntry.objects.get(idempotency_key=f"race:{race.pk}:1")
    assert (entry.kind, entry.channel, entry.amount) == ("earn", "campaign", 1000)
    coupon = Coupon.objects.get(issue_key=f"race:{race.pk}:1")
    assert (coupon.member_id, coupon.reward_id) == (first.pk, voucher.pk)
    voucher.refresh_from_db()
    assert voucher.stock == 4
    notices = OutboundMessage.objects.filter(template="race_result").order_by("dedupe_key")
    assert [n.dedupe_key for n in notices] == [f"race:{race.pk}:1", f"race:{race.pk}:2", f"race:{race.pk}:3"]
    assert "You finished #1 in Top spender with 900.00 THB." in str(notices[0].messages)
    assert ledger_mismatches() == []
    summary = selectors.race_summary(race=race)
    assert (summary.participants, summary.prize_points, summary.coupons) == (4, 1600, 1)


def test_a_race_closes_once_and_not_before_its_end(brand):
    race = make_race(brand, starts_at=START, ends_at=END, prizes=[(1, 1, 500, None)])
    (winner,) = seed_standings(race, ["100"])

    assert race_close(race_id=race.pk, now=END + timedelta(minutes=5)) is None  # inside the grace period
    assert race_close(race_id=race.pk, now=AFTER) is not None
    assert race_close(race_id=race.pk, now=AFTER + timedelta(days=1)) is None
    assert balance(winner) == 500
    assert RaceResult.objects.filter(race=race).count() == 1


def test_a_prize_coupon_out_of_stock_is_noted_and_the_points_still_go(brand):
    voucher = factories.RewardFactory(brand=brand, stock=0)
    race = make_race(brand, starts_at=START, ends_at=END, prizes=[(1, 1, 200, voucher)])
    (winner,) = seed_standings(race, ["100"])

    race_close(race_id=race.pk, now=AFTER)

    result = RaceResult.objects.get(race=race, rank=1)
    assert (result.coupon_id, result.prize_note, balance(winner)) == (None, "reward out of stock", 200)
    assert selectors.race_summary(race=race).prizes_missing == 1


def test_after_the_close_purchases_and_refunds_change_nothing(brand, buy, time_machine):
    race = make_race(brand, starts_at=START, ends_at=END)
    member = factories.MemberFactory(brand=brand)
    buy(member, "300.00", bangkok(2026, 11, 20), "C-1")
    race_close(race_id=race.pk, now=AFTER)

    buy(member, "100.00", bangkok(2026, 11, 30, 23, 0), "C-late")  # inside the period, synced after the close

    assert Standing.objects.get(race=race, member=member).value == Decimal("300.00")
    position = selectors.member_position(race=race, member=member)
    assert (position.rank, position.value) == (1, Decimal("300.00"))


def test_the_beat_task_closes_only_races_that_ended(brand, time_machine):
    time_machine.move_to(AFTER)
    ended = make_race(brand, starts_at=START, ends_at=END)
    running = make_race(brand, starts_at=START, ends_at=END + timedelta(days=3))
    draft = make_race(brand, starts_at=START, ends_at=END, activate=False)

    assert close_due_races() == [ended.pk]
    assert close_due_races() == []
    statuses = dict(Race.objects.values_list("pk", "status"))
    assert (statuses[ended.pk], statuses[running.pk], statuses[draft.pk]) == ("closed", "active", "draft")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_closes_grant_the_prizes_exactly_once():
    brand = factories.brand_with_program()
    voucher = factories.RewardFactory(brand=brand, stock=10)
    race = make_race(brand, starts_at=START, ends_at=END, top_n=3,
                     prizes=[(1, 1, 1000, voucher), (2, 3, 300, voucher)])
    members = seed_standings(race, ["900", "800", "700", "600"])
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def close() -> None:
        try:
            barrier.wait()
            outcomes.append(race_close(race_id=race.pk, now=AFTER))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(outcome is None for outcome in outcomes) == [False, True]
    assert [balance(member) for member in members] == [1000, 300, 300, 0]
    assert LedgerEntry.objects.filter(idempotency_key__startswith=f"race:{race.pk}:").count() == 3
    assert Coupon.objects.filter(issue_key__startswith=f"race:{race.pk}:").count() == 3
    voucher.refresh_from_db()
    assert voucher.stock == 7
    assert RaceResult.objects.filter(race=race).count() == 4
    assert OutboundMessage.objects.filter(template="race_result").count() == 3
