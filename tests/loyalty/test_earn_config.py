"""The per-process earn configuration cache (loyalty.services.earn_config).

A purchase reads the brand's rules, policy, promotions and tier-program state from a
snapshot this process keeps for ``EARN_CONFIG_TTL`` seconds. A change saved in this process
applies to the very next bill; a change this process did not see (another process's
save, here a queryset update that sends no signal) applies once the snapshot is older
than the TTL. A bill dated before the snapshot's window reads promotions from the database.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config import process_cache
from loyalty.models import EarnPolicy, EarnRule, Promotion, PromotionAward, Purchase, Tier, TierProgram
from loyalty.services import earn_config
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel


def buy(member, order_id: str, total: str = "250.00", at=None):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total), sku="LATTE")],
                           purchased_at=at or timezone.now())


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    settings.EARN_CONFIG_TTL = 5
    fake = Clock()
    monkeypatch.setattr(process_cache.time, "monotonic", fake.monotonic)
    return fake


@pytest.mark.django_db(transaction=True)
def test_a_rule_saved_in_this_process_applies_to_the_next_bill(member, clock):
    assert buy(member, "A-1").points_earned == 10  # 1 point per 25 THB; the snapshot is read
    rule = EarnRule.objects.get(brand=member.brand)
    rule.points = 2
    rule.save()
    assert buy(member, "A-2").points_earned == 20


@pytest.mark.django_db(transaction=True)
def test_a_promotion_and_its_tiers_saved_in_this_process_apply_at_once(member, clock):
    brand = member.brand
    assert buy(member, "P-1").points_earned == 10
    now = timezone.now()
    promotion = Promotion.objects.create(brand=brand, currency=brand.currencies.get(is_default=True), name="x2",
                                         kind=Promotion.Kind.MULTIPLIER, multiplier=Decimal("2"),
                                         starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))
    assert buy(member, "P-2").points_earned == 20
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", rank=1, threshold=Decimal("100000"))
    promotion.tiers.add(gold)  # a many-to-many change: only Gold members now
    assert buy(member, "P-3").points_earned == 10


@pytest.mark.django_db(transaction=True)
def test_a_change_this_process_did_not_see_applies_once_the_snapshot_is_older_than_the_ttl(member, clock):
    assert buy(member, "T-1").points_earned == 10
    # As another process's save would: no signal reaches this process.
    EarnRule.objects.filter(brand=member.brand).update(points=3)
    clock.now += 4.9
    assert buy(member, "T-2").points_earned == 10  # still the snapshot
    clock.now += 0.2
    assert buy(member, "T-3").points_earned == 30
    EarnPolicy.objects.create(brand=member.brand, rounding="up")
    assert buy(member, "T-4", total="260.00").points_earned == 32  # 31.2 rounded up, at once (a save)


@pytest.mark.django_db(transaction=True)
def test_a_switched_off_tier_program_in_the_snapshot_gives_no_multiplier(member, clock):
    brand = member.brand
    program = TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    Tier.objects.create(brand=brand, code="base", name="เบสิก", rank=1, threshold=Decimal("0"),
                        earn_multiplier=Decimal("2"))
    assert buy(member, "S-1").points_earned == 20  # the entry tier, from the snapshot, doubles
    program.is_active = False
    program.save()
    assert buy(member, "S-2").points_earned == 10


@pytest.mark.django_db(transaction=True)
def test_a_bill_dated_before_the_snapshot_window_reads_its_promotions_from_the_database(member, clock):
    brand = member.brand
    now = timezone.now()
    # A promotion that ended ten days ago: outside the snapshot, which holds those that ended at most
    # RECENT + MARGIN (8 days) before it was read.
    Promotion.objects.create(brand=brand, currency=brand.currencies.get(is_default=True), name="old x2",
                             kind=Promotion.Kind.MULTIPLIER, multiplier=Decimal("2"),
                             starts_at=now - timedelta(days=20), ends_at=now - timedelta(days=10))
    assert buy(member, "L-1").points_earned == 10
    assert earn_config.earn_setup(brand=brand, cached=True).promotions == []
    late = buy(member, "L-2", at=now - timedelta(days=12))  # a till that was offline sends an old bill
    assert late.points_earned == 20


def test_without_a_ttl_nothing_is_kept(member, settings):
    settings.EARN_CONFIG_TTL = 0
    assert buy(member, "Z-1").points_earned == 10
    EarnRule.objects.filter(brand=member.brand).update(points=3)
    assert buy(member, "Z-2").points_earned == 30


@pytest.mark.django_db(transaction=True)
def test_a_promotion_deleted_by_another_process_does_not_fail_the_purchase(member, clock):
    brand = member.brand
    now = timezone.now()
    promotion = Promotion.objects.create(brand=brand, currency=brand.currencies.get(is_default=True), name="x2",
                                         kind=Promotion.Kind.MULTIPLIER, multiplier=Decimal("2"),
                                         starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))
    assert buy(member, "D-1").points_earned == 20  # the snapshot holds the promotion
    with connection.cursor() as cursor:  # another process deletes it: no signal here
        cursor.execute("DELETE FROM loyalty_promotion_tiers WHERE promotion_id = %s", [promotion.pk])
        cursor.execute("DELETE FROM loyalty_promotion_branches WHERE promotion_id = %s", [promotion.pk])
        cursor.execute("DELETE FROM loyalty_promotionaward WHERE promotion_id = %s", [promotion.pk])
        cursor.execute("DELETE FROM loyalty_promotion WHERE id = %s", [promotion.pk])
    result = buy(member, "D-2")
    assert result.created and result.points_earned == 10  # recorded again from the database, once
    assert Purchase.objects.filter(order_id="D-2").count() == 1
    assert not PromotionAward.objects.exists()
    assert earn_config.earn_setup(brand=brand, cached=True).promotions == []


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_read_inside_a_transaction_is_not_kept(member, clock):
    with transaction.atomic():
        assert buy(member, "R-1").points_earned == 10
    EarnRule.objects.filter(brand=member.brand).update(points=3)  # no signal
    assert buy(member, "R-2").points_earned == 30


def _tier_reads(statements) -> int:
    """Reads of the member's tier by the purchase's own transaction (the subscribers run after COMMIT)."""
    sql = [query["sql"] for query in statements.captured_queries]
    return sum('"loyalty_membertier"' in statement for statement in sql[:sql.index("COMMIT")])


@pytest.mark.django_db(transaction=True)
def test_the_members_tier_is_read_only_when_a_tier_or_a_promotion_of_the_snapshot_depends_on_it(member, clock):
    from django.test.utils import CaptureQueriesContext

    from loyalty.models import MemberTier

    brand = member.brand
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    Tier.objects.create(brand=brand, code="base", name="เบสิก", rank=1, threshold=Decimal("0"))
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", rank=2, threshold=Decimal("100000"))
    MemberTier.objects.create(member=member, brand=brand, tier=gold, achieved_at=timezone.now())
    buy(member, "M-0")  # the snapshot is read
    with CaptureQueriesContext(connection) as statements:
        assert buy(member, "M-1").points_earned == 10  # no tier multiplies: the tier cannot matter
    assert _tier_reads(statements) == 0
    gold.earn_multiplier = Decimal("1.5")
    gold.save()
    with CaptureQueriesContext(connection) as statements:
        assert buy(member, "M-2").points_earned == 15  # Gold ×1.5: read, and applied
    assert _tier_reads(statements) == 1
    gold.earn_multiplier = Decimal("1")
    gold.save()
    now = timezone.now()
    promotion = Promotion.objects.create(brand=brand, currency=brand.currencies.get(is_default=True),
                                         name="Gold +5", kind=Promotion.Kind.BILL_BONUS, bonus_points=5,
                                         starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))
    promotion.tiers.add(gold)
    with CaptureQueriesContext(connection) as statements:
        assert buy(member, "M-3").points_earned == 15  # a Gold-only promotion: read, and it applies
    assert _tier_reads(statements) == 1


@pytest.mark.django_db(transaction=True)
def test_a_tier_given_by_staff_without_a_tier_program_still_multiplies(member, clock):
    from loyalty.models import MemberTier

    brand = member.brand
    vip = Tier.objects.create(brand=brand, code="vip", name="วีไอพี", rank=1, threshold=Decimal("0"),
                              earn_multiplier=Decimal("2"))
    MemberTier.objects.create(member=member, brand=brand, tier=vip, achieved_at=timezone.now())
    buy(member, "V-0")  # the snapshot is read: no TierProgram at all
    assert buy(member, "V-1").points_earned == 20
