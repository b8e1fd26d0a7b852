"""Review of the tier code: edge cases and races of the nightly review, the override and the portal.

Brand "acme": Silver (entry, threshold 0), Gold (10,000), Platinum (50,000); spend over the
Bangkok calendar year unless a test says otherwise. Times are Bangkok.
"""

import threading
import time
from datetime import datetime
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from loyalty.models import LedgerEntry, MemberTier, Purchase, Redemption, Tier, TierChange, TierProgram
from loyalty.selectors import member_tier_status, rewards_for_member, rewards_unlocked
from loyalty.services import tiers as tier_rules
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.ledger import Channel
from loyalty.services.redemption import reward_redeem
from loyalty.services.tiers import member_tier_evaluate, tier_override, tiers_review
from tests import factories

BKK = ZoneInfo("Asia/Bangkok")


def bkk(*parts) -> datetime:
    return datetime(*parts, tzinfo=BKK)


def make_tiers(brand) -> dict[str, Tier]:
    return {
        "silver": Tier.objects.create(brand=brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1,
                                      threshold=Decimal("0")),
        "gold": Tier.objects.create(brand=brand, code="gold", name="โกลด์", name_en="Gold", rank=2,
                                    threshold=Decimal("10000")),
        "platinum": Tier.objects.create(brand=brand, code="platinum", name="แพลทินัม", name_en="Platinum",
                                        rank=3, threshold=Decimal("50000")),
    }


@pytest.fixture
def tier_brand(db):
    brand = factories.brand_with_program()
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    return brand


@pytest.fixture
def tiers(tier_brand):
    return make_tiers(tier_brand)


@pytest.fixture
def shopper(tier_brand):
    return factories.MemberFactory(brand=tier_brand, line_user_id=None, language="en")


def buy(member, order_id: str, total: str, at: datetime):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total))], purchased_at=at)


def place(member, tier, until, **extra) -> MemberTier:
    return MemberTier.objects.create(member=member, brand=member.brand, tier=tier, qualified_until=until,
                                     achieved_at=bkk(2025, 3, 1), **extra)


def wait_until_blocked_on_a_lock(timeout: float = 10.0) -> None:
    """Wait until another session of this database waits for a row lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("no session blocked on a lock")


# --- races ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_upgrade_committed_while_the_review_decides_is_not_overwritten_by_the_review():
    brand = factories.brand_with_program(slug="race-review")
    TierProgram.objects.create(brand=brand)
    tiers = make_tiers(brand)
    member = factories.MemberFactory(brand=brand, line_user_id=None)
    place(member, tiers["gold"], bkk(2027, 1, 1))  # due on 1 Jan 2027, spent nothing in 2026: would drop
    Purchase.objects.create(brand=brand, member=member, channel=Channel.POS, order_id="NEW-YEAR",
                            total=Decimal("60000"), purchased_at=bkk(2027, 1, 1, 0, 20))
    locked, release = threading.Event(), threading.Event()
    original_value = tier_rules.member_tier_value
    errors = []

    def slow_value(**kwargs):  # the upgrade holds the member's row lock while the review decides
        locked.set()
        release.wait(10)
        return original_value(**kwargs)

    def upgrade():
        try:
            member_tier_evaluate(member_id=member.pk, now=bkk(2027, 1, 1, 0, 21))
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    def review():
        try:
            tiers_review(now=bkk(2027, 1, 1, 0, 30), brand=brand)
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    with mock.patch.object(tier_rules, "member_tier_value", slow_value):
        upgrader = threading.Thread(target=upgrade)
        upgrader.start()
        assert locked.wait(10)
        reviewer = threading.Thread(target=review)
        reviewer.start()
        try:
            wait_until_blocked_on_a_lock()
        finally:
            release.set()
        upgrader.join(20)
        reviewer.join(20)
    assert errors == []
    row = MemberTier.objects.get(member=member)
    assert (row.tier, row.qualified_until) == (tiers["platinum"], bkk(2029, 1, 1))
    assert list(TierChange.objects.filter(member=member).values_list("kind", flat=True)) == ["upgrade"]


@pytest.mark.django_db(transaction=True)
def test_two_reviews_running_at_once_record_and_announce_each_change_once():
    brand = factories.brand_with_program(slug="race-twice")
    TierProgram.objects.create(brand=brand)
    tiers = make_tiers(brand)
    member = factories.MemberFactory(brand=brand, line_user_id=None)
    place(member, tiers["gold"], bkk(2027, 1, 1))
    first_done, release = threading.Event(), threading.Event()
    original_chunk = tier_rules._review_chunk
    announced, errors = [], []

    def chunk_then_hold(cursor, program, params):  # the first run holds its chunk's transaction open
        counts = original_chunk(cursor, program, params)
        if threading.current_thread().name == "first":
            first_done.set()
            release.wait(10)
        return counts

    def run():
        try:
            tiers_review(now=bkk(2027, 1, 1, 0, 30), brand=brand)
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    def record(**payload):
        announced.append(payload)

    with mock.patch.object(tier_rules, "_review_chunk", chunk_then_hold), \
            mock.patch.dict(tier_rules.events._subscribers, {tier_rules.TIERS_REVIEWED: [record]}):
        first = threading.Thread(target=run, name="first")
        first.start()
        assert first_done.wait(10)
        second = threading.Thread(target=run, name="second")
        second.start()
        try:
            wait_until_blocked_on_a_lock()
        finally:
            release.set()
        first.join(20)
        second.join(20)
    assert errors == []
    assert list(TierChange.objects.filter(member=member).values_list("kind", flat=True)) == ["downgrade"]
    assert MemberTier.objects.get(member=member).tier == tiers["silver"]
    assert len(announced) == 1


# --- edge cases of the review -----------------------------------------------------------------------


def test_a_period_with_more_points_reversed_than_earned_keeps_the_entry_tier(tiers, tier_brand, shopper):
    TierProgram.objects.filter(brand=tier_brand).update(metric="points")
    with time_machine.travel(bkk(2026, 12, 20, 10, 0), tick=False):
        purchase = buy(shopper, "P-1", "2500.00", bkk(2026, 12, 20, 9, 0)).purchase  # 100 points in 2026
    with time_machine.travel(bkk(2027, 1, 5, 10, 0), tick=False):
        purchase_refund(brand=tier_brand, purchase_id=purchase.pk)  # -100 points in 2027
    place(shopper, tiers["silver"], bkk(2028, 1, 1))

    counts = tiers_review(now=bkk(2028, 1, 1, 0, 30))  # 2027: net -100 points
    row = MemberTier.objects.get(member=shopper)
    assert (row.tier, row.qualified_until) == (tiers["silver"], bkk(2029, 1, 1))
    assert counts.get("lapse", 0) == 0 and counts["renewal"] == 1


def test_the_review_counts_only_the_programs_brand(tiers, tier_brand, shopper, other_brand):
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    Purchase.objects.create(brand=other_brand, member=shopper, channel=Channel.POS, order_id="ELSEWHERE",
                            total=Decimal("20000"), purchased_at=bkk(2026, 6, 1))
    tiers_review(now=bkk(2027, 1, 1, 0, 30))
    assert MemberTier.objects.get(member=shopper).tier == tiers["silver"]
    start, end = tier_rules.current_window(TierProgram.objects.get(brand=tier_brand), bkk(2026, 7, 1))
    assert tier_rules.member_tier_value(member_id=shopper.pk, program=TierProgram.objects.get(brand=tier_brand),
                                        start=start, end=end) == Decimal("0")


# --- members without a tier row -----------------------------------------------------------------------


def test_a_member_without_a_tier_row_is_in_the_entry_tier_for_tier_rewards(tiers, tier_brand, shopper):
    silver_reward = factories.RewardFactory(brand=tier_brand, name="Member mug", points_cost=10,
                                            min_tier=tiers["silver"])
    gold_reward = factories.RewardFactory(brand=tier_brand, name="Lounge", points_cost=10, min_tier=tiers["gold"])
    factories.give_points(shopper, 100, key="seed")
    assert not MemberTier.objects.filter(member=shopper).exists()
    assert member_tier_status(member=shopper).tier == tiers["silver"]  # what the portal shows

    assert rewards_for_member(member=shopper) == [(silver_reward, True), (gold_reward, False)]
    assert list(rewards_unlocked(member=shopper)) == [silver_reward]
    assert reward_redeem(brand=tier_brand, member=shopper, reward_id=silver_reward.pk, request_id="m-1").created
    assert Redemption.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1


# --- staff override ----------------------------------------------------------------------------------


def test_staff_of_one_brand_cannot_override_a_member_of_another_brand(tiers, tier_brand, other_brand, client):
    other_tiers = {"gold": Tier.objects.create(brand=other_brand, code="gold", name="Gold", rank=2,
                                               threshold=Decimal("1"))}
    stranger = factories.MemberFactory(brand=other_brand)
    staff = factories.staff_user(brands=[tier_brand])
    client.force_login(staff)
    response = client.post(f"/admin/loyalty/membertier/override/{stranger.pk}/",
                           {"tier": other_tiers["gold"].pk, "until": "2099-01-01", "reason": "Friend"})
    assert response.status_code == 404
    assert not MemberTier.objects.filter(member=stranger).exists()
    assert not TierChange.objects.exists()


def test_an_invalid_override_writes_nothing(tiers, tier_brand, shopper, other_brand):
    from config.domain import ValidationFailed

    foreign = Tier.objects.create(brand=other_brand, code="gold", name="Gold", rank=2, threshold=Decimal("1"))
    staff = factories.staff_user(brands=[tier_brand])
    with time_machine.travel(bkk(2026, 3, 1, 10, 0), tick=False):
        for tier, until, reason, field in [(foreign, bkk(2026, 8, 1), "Why", "tier"),
                                           (tiers["gold"], bkk(2026, 3, 1), "Why", "until"),
                                           (tiers["gold"], bkk(2026, 8, 1), "  ", "reason")]:
            with pytest.raises(ValidationFailed) as refused:
                tier_override(member=shopper, tier=tier, until=until, reason=reason, staff_user=staff)
            assert field in refused.value.fields
    assert not MemberTier.objects.filter(member=shopper).exists()
    assert not TierChange.objects.exists()


# --- what the member sees ---------------------------------------------------------------------------


def test_the_portal_says_by_when_for_a_calendar_year(tiers, shopper):
    buy(shopper, "C-1", "6000.00", bkk(2026, 2, 1))
    status = member_tier_status(member=shopper, now=bkk(2026, 6, 15, 12, 0))
    assert status.next_step("en") == "Spend 4,000 THB more by 31 Dec 2026 to reach Gold."


def test_the_portal_says_by_when_for_a_rolling_window(tiers, tier_brand, shopper):
    TierProgram.objects.filter(brand=tier_brand).update(period="rolling", rolling_months=12)
    today = bkk(2026, 6, 15, 12, 0)
    assert member_tier_status(member=shopper, now=today).next_step("en") == (
        "Spend 10,000 THB more within 12 months to reach Gold.")  # nothing in the window yet
    buy(shopper, "R-0", "9000.00", bkk(2025, 6, 15, 23, 0))  # out of the window already
    buy(shopper, "R-1", "6000.00", bkk(2025, 8, 1, 10, 0))  # counts through 31 Jul 2026
    buy(shopper, "R-2", "2000.00", bkk(2026, 3, 1, 10, 0))
    status = member_tier_status(member=shopper, now=today)
    assert status.value == Decimal("8000.00")
    # 2,000 THB more reaches Gold only while the 6,000 of 1 Aug 2025 still counts.
    assert status.next_step("en") == "Spend 2,000 THB more by 31 Jul 2026 to reach Gold."
    with time_machine.travel(bkk(2026, 7, 31, 20, 0), tick=False):
        buy(shopper, "R-3", "2000.00", bkk(2026, 7, 31, 19, 0))
        assert member_tier_evaluate(member_id=shopper.pk).to_tier == tiers["gold"]


def test_the_portal_asks_for_whole_points_and_purchases(tiers, tier_brand, shopper):
    TierProgram.objects.filter(brand=tier_brand).update(metric="points")
    Tier.objects.filter(pk=tiers["gold"].pk).update(threshold=Decimal("100.5"))
    with time_machine.travel(bkk(2026, 6, 1, 10, 0), tick=False):
        buy(shopper, "W-1", "2500.00", bkk(2026, 6, 1, 9, 0))  # 100 points
    status = member_tier_status(member=shopper, now=bkk(2026, 6, 15, 12, 0))
    assert status.next_step("en") == "Earn 1 more points by 31 Dec 2026 to reach Gold."


def test_a_tier_reached_during_grace_is_where_the_member_lands_when_the_grace_ends(tiers, tier_brand, shopper,
                                                                                  django_capture_on_commit_callbacks):
    TierProgram.objects.filter(brand=tier_brand).update(grace_days=30)
    place(shopper, tiers["platinum"], bkk(2027, 1, 1))  # nothing spent in 2026
    tiers_review(now=bkk(2027, 1, 1, 0, 30))
    row = MemberTier.objects.get(member=shopper)
    assert (row.tier, row.grace_tier) == (tiers["platinum"], tiers["silver"])

    with time_machine.travel(bkk(2027, 1, 10, 15, 0), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        buy(shopper, "G-1", "10000.00", bkk(2027, 1, 10, 14, 0))  # Gold in 2027, not Platinum
    row.refresh_from_db()
    assert (row.tier, row.grace_until, row.grace_tier) == (tiers["platinum"], bkk(2027, 1, 31), tiers["gold"])

    tiers_review(now=bkk(2027, 1, 31, 0, 30))
    row.refresh_from_db()
    assert (row.tier, row.grace_until) == (tiers["gold"], None)
    assert list(TierChange.objects.filter(member=shopper).order_by("id").values_list("kind", "to_tier__code")) == [
        ("grace", "silver"), ("grace", "gold"), ("downgrade", "gold")]


def test_a_switched_off_program_gives_no_tier_benefits(brand, member):
    """Multiplier and tier rewards stop while the brand's tier program is off."""
    from loyalty.services.earn_engine import member_tier as engine_tier
    from loyalty.services.tiers import member_tier as tiers_member_tier

    gold = Tier.objects.create(brand=brand, code="gold-off", name="Gold", rank=7, threshold=Decimal("100"),
                               earn_multiplier=Decimal("2"))
    program = TierProgram.objects.create(brand=brand)
    MemberTier.objects.create(member=member, brand=brand, tier=gold)
    assert tiers_member_tier(member) == gold and engine_tier(member) == gold
    program.is_active = False
    program.save()
    assert tiers_member_tier(member) is None and engine_tier(member) is None
