"""Membership tiers: upgrade on purchase, the nightly review (downgrade, grace, lapse, override), boundaries.

Brand "acme": Silver (entry, threshold 0), Gold (10,000 THB, ×1.5, 200 birthday points),
Platinum (50,000 THB); qualification on spend over the Bangkok calendar year unless a test
says otherwise. Times are Bangkok.
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from config.domain import ValidationFailed
from loyalty.models import JobRun, MemberTier, Tier, TierChange, TierProgram
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel
from loyalty.services.tiers import member_tier_evaluate, period_end, tier_override, tiers_review
from tests import factories

BKK = ZoneInfo("Asia/Bangkok")
TOKEN = "tier-channel-token"


def bkk(*parts) -> datetime:
    return datetime(*parts, tzinfo=BKK)


@pytest.fixture
def tier_brand(db, fake_line):
    brand = factories.brand_with_program()
    brand.line_channel_access_token = TOKEN
    brand.save()
    fake_line.add_channel(TOKEN)
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    return brand


@pytest.fixture
def tiers(tier_brand):
    return {
        "silver": Tier.objects.create(brand=tier_brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1,
                                      threshold=Decimal("0")),
        "gold": Tier.objects.create(brand=tier_brand, code="gold", name="โกลด์", name_en="Gold", rank=2,
                                    threshold=Decimal("10000"), earn_multiplier=Decimal("1.5"), birthday_bonus=200,
                                    benefits_en="Free upsize every visit"),
        "platinum": Tier.objects.create(brand=tier_brand, code="platinum", name="แพลทินัม", name_en="Platinum",
                                        rank=3, threshold=Decimal("50000")),
    }


@pytest.fixture
def shopper(tier_brand, fake_line):
    member = factories.MemberFactory(brand=tier_brand, line_user_id="U" + "b" * 32, line_reachable=True,
                                     language="en", first_name="Nok")
    fake_line.add_user(member.line_user_id)
    return member


def buy(member, order_id: str, total: str, at: datetime):
    return purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                           total=Decimal(total), lines=[LineInput(amount=Decimal(total))], purchased_at=at)


def place(member, tier, until, **extra) -> MemberTier:
    """Test setup: the member's tier state as an earlier period left it."""
    return MemberTier.objects.create(member=member, brand=member.brand, tier=tier, qualified_until=until,
                                     achieved_at=bkk(2025, 3, 1), **extra)


def flex_texts(message: dict) -> str:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "text":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message)
    return " | ".join(found)


# --- periods -------------------------------------------------------------------------------------


def test_period_end_is_the_end_of_next_calendar_year_or_the_rolling_window(tier_brand):
    calendar_program = TierProgram(brand=tier_brand, period="calendar_year")
    assert period_end(calendar_program, bkk(2026, 12, 31, 23, 59)) == bkk(2028, 1, 1)
    assert period_end(calendar_program, bkk(2027, 1, 1, 0, 0)) == bkk(2029, 1, 1)
    rolling = TierProgram(brand=tier_brand, period="rolling", rolling_months=12)
    assert period_end(rolling, bkk(2026, 3, 15, 9, 0)) == bkk(2027, 3, 16)
    assert period_end(rolling, bkk(2024, 2, 29, 9, 0)) == bkk(2025, 3, 1)  # 28 Feb 2025, then midnight


# --- upgrade at once -----------------------------------------------------------------------------


def test_a_purchase_that_crosses_the_gold_threshold_upgrades_at_once_and_tells_the_member(
        tiers, shopper, fake_line, django_capture_on_commit_callbacks):
    with time_machine.travel(bkk(2026, 3, 10, 10, 0), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            buy(shopper, "A-1", "6000.00", bkk(2026, 3, 10, 9, 55))
        row = MemberTier.objects.get(member=shopper)
        assert row.tier == tiers["silver"]  # entry tier on first evaluation, no upgrade yet
        assert TierChange.objects.filter(member=shopper).count() == 0
        with django_capture_on_commit_callbacks(execute=True):
            buy(shopper, "A-2", "4000.00", bkk(2026, 3, 10, 9, 58))

    row.refresh_from_db()
    assert row.tier == tiers["gold"]
    assert row.qualified_until == bkk(2028, 1, 1)  # holds through the end of 2027
    assert row.grace_until is None
    change = TierChange.objects.get(member=shopper)
    assert (change.kind, change.from_tier, change.to_tier, change.value) == (
        "upgrade", tiers["silver"], tiers["gold"], Decimal("10000.00"))
    messages = fake_line.inbox(shopper.line_user_id)
    tier_message = [m for m in messages if "Gold" in flex_texts(m)]
    assert len(tier_message) == 1
    text = flex_texts(tier_message[0])
    assert "Congratulations! You are now Gold." in text
    assert "Free upsize every visit" in text
    assert "Spend 40,000 THB more by 31 Dec 2026 to reach Platinum." in text


def test_replaying_the_upgrade_evaluation_changes_nothing(tiers, shopper, django_capture_on_commit_callbacks):
    with time_machine.travel(bkk(2026, 3, 10, 10, 0), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            buy(shopper, "A-1", "12000.00", bkk(2026, 3, 10, 9, 0))
        assert member_tier_evaluate(member_id=shopper.pk) is None
    assert list(TierChange.objects.filter(member=shopper).values_list("kind", flat=True)) == ["upgrade"]


def test_a_refund_does_not_downgrade_before_the_review(tiers, shopper, django_capture_on_commit_callbacks):
    from loyalty.services.earning import purchase_refund

    with time_machine.travel(bkk(2026, 3, 10, 10, 0), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            purchase = buy(shopper, "A-1", "12000.00", bkk(2026, 3, 10, 9, 0)).purchase
        with django_capture_on_commit_callbacks(execute=True):
            purchase_refund(brand=shopper.brand, purchase_id=purchase.pk, refund_id="R-1", amount=Decimal("5000"))
    assert MemberTier.objects.get(member=shopper).tier == tiers["gold"]


# --- the nightly review --------------------------------------------------------------------------


def test_period_end_review_downgrades_a_gold_member_who_spent_too_little(tiers, shopper,
                                                                        django_capture_on_commit_callbacks):
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    buy(shopper, "B-1", "3000.00", bkk(2026, 5, 1, 12, 0))
    buy(shopper, "B-0", "20000.00", bkk(2025, 12, 31, 12, 0))  # 2025: not in the reviewed year
    counts = tiers_review(now=bkk(2027, 1, 1, 0, 30))
    assert counts["downgrade"] == 1
    row = MemberTier.objects.get(member=shopper)
    assert (row.tier, row.qualified_until, row.grace_until) == (tiers["silver"], bkk(2028, 1, 1), None)
    change = TierChange.objects.get(member=shopper)
    assert (change.kind, change.from_tier, change.to_tier, change.value, change.run_key) == (
        "downgrade", tiers["gold"], tiers["silver"], Decimal("3000.00"), "2027-01-01")
    job = JobRun.objects.get(job="tiers_review")
    assert job.run_key == "2027-01-01" and job.details["downgrade"] == 1


def test_review_keeps_a_member_who_qualified_again_and_upgrades_one_who_spent_more(tiers, tier_brand, shopper):
    keeper = factories.MemberFactory(brand=tier_brand)
    place(keeper, tiers["gold"], bkk(2027, 1, 1))
    buy(keeper, "K-1", "10000.00", bkk(2026, 6, 1))
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    buy(shopper, "S-1", "50000.00", bkk(2026, 6, 1))
    tiers_review(now=bkk(2027, 1, 1, 0, 30))
    keeper_row, shopper_row = MemberTier.objects.get(member=keeper), MemberTier.objects.get(member=shopper)
    assert (keeper_row.tier, keeper_row.qualified_until) == (tiers["gold"], bkk(2028, 1, 1))
    assert (shopper_row.tier, shopper_row.qualified_until) == (tiers["platinum"], bkk(2028, 1, 1))
    assert TierChange.objects.get(member=keeper).kind == "renewal"
    assert TierChange.objects.get(member=shopper).kind == "upgrade"


def test_grace_keeps_the_tier_requalifying_clears_it_and_the_end_downgrades(
        tiers, tier_brand, shopper, django_capture_on_commit_callbacks):
    TierProgram.objects.filter(brand=tier_brand).update(grace_days=30)
    stays = factories.MemberFactory(brand=tier_brand)
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    place(stays, tiers["gold"], bkk(2027, 1, 1))

    tiers_review(now=bkk(2027, 1, 1, 0, 30))
    for member in (shopper, stays):
        row = MemberTier.objects.get(member=member)
        assert (row.tier, row.grace_until, row.grace_tier) == (tiers["gold"], bkk(2027, 1, 31), tiers["silver"])
        assert row.qualified_until == bkk(2027, 1, 1)  # unchanged during grace
    assert TierChange.objects.filter(kind="grace").count() == 2

    # In grace, ``stays`` spends 10,000 THB in 2027: renewed at once, grace cleared.
    with time_machine.travel(bkk(2027, 1, 10, 15, 0), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        buy(stays, "G-1", "10000.00", bkk(2027, 1, 10, 14, 0))
    row = MemberTier.objects.get(member=stays)
    assert (row.tier, row.grace_until, row.grace_tier, row.qualified_until) == (
        tiers["gold"], None, None, bkk(2029, 1, 1))
    assert TierChange.objects.filter(member=stays).latest("id").kind == "renewal"

    assert tiers_review(now=bkk(2027, 1, 30, 0, 30))["rows"] == 0  # still in grace: nobody due
    assert MemberTier.objects.get(member=shopper).tier == tiers["gold"]

    tiers_review(now=bkk(2027, 1, 31, 0, 30))
    row = MemberTier.objects.get(member=shopper)
    assert (row.tier, row.grace_until, row.qualified_until) == (tiers["silver"], None, bkk(2028, 1, 1))
    assert TierChange.objects.filter(member=shopper).latest("id").kind == "downgrade"
    assert MemberTier.objects.get(member=stays).tier == tiers["gold"]


def test_without_an_entry_tier_the_tier_lapses_to_none_and_then_rests(tiers, shopper):
    tiers["silver"].delete()
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    buy(shopper, "L-1", "9999.99", bkk(2026, 8, 1))
    assert tiers_review(now=bkk(2027, 1, 1, 0, 30))["lapse"] == 1
    row = MemberTier.objects.get(member=shopper)
    assert (row.tier, row.qualified_until) == (None, bkk(2028, 1, 1))
    change = TierChange.objects.get(member=shopper)
    assert (change.kind, change.to_tier, change.value) == ("lapse", None, Decimal("9999.99"))

    counts = tiers_review(now=bkk(2028, 1, 1, 1, 0))  # nothing in 2027: no tier, nothing more to review
    assert counts.get("idle") == 1
    assert MemberTier.objects.get(member=shopper).qualified_until is None
    assert TierChange.objects.filter(member=shopper).count() == 1


def test_the_calendar_year_ends_exactly_at_midnight_bangkok(tiers, tier_brand, shopper):
    late = factories.MemberFactory(brand=tier_brand)
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    place(late, tiers["gold"], bkk(2027, 1, 1))
    buy(shopper, "Y-1", "10000.00", bkk(2026, 12, 31, 23, 59))  # counts for 2026
    buy(late, "Y-2", "10000.00", bkk(2027, 1, 1, 0, 0))  # the first second of 2027: does not
    tiers_review(now=bkk(2027, 1, 1, 0, 30))
    assert MemberTier.objects.get(member=shopper).tier == tiers["gold"]
    assert MemberTier.objects.get(member=late).tier == tiers["silver"]
    assert TierChange.objects.get(member=late).value == Decimal("0.00")


def test_a_purchase_at_2359_on_31_december_upgrades_for_the_old_year(tiers, shopper,
                                                                     django_capture_on_commit_callbacks):
    with time_machine.travel(bkk(2026, 12, 31, 23, 59, 30), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        buy(shopper, "Y-3", "10000.00", bkk(2026, 12, 31, 23, 59))
    assert MemberTier.objects.get(member=shopper).qualified_until == bkk(2028, 1, 1)


def test_rolling_window_counts_the_last_twelve_months_before_the_review(tiers, tier_brand, shopper):
    TierProgram.objects.filter(brand=tier_brand).update(period="rolling", rolling_months=12)
    place(shopper, tiers["gold"], bkk(2026, 6, 16))
    buy(shopper, "R-0", "8000.00", bkk(2025, 6, 15, 23, 59))  # before the window
    buy(shopper, "R-1", "6000.00", bkk(2025, 6, 16, 0, 0))
    buy(shopper, "R-2", "4000.00", bkk(2026, 6, 15, 23, 59))
    tiers_review(now=bkk(2026, 6, 16, 0, 30))
    row = MemberTier.objects.get(member=shopper)
    assert (row.tier, row.qualified_until) == (tiers["gold"], bkk(2027, 6, 16))
    change = TierChange.objects.get(member=shopper)
    assert (change.kind, change.value) == ("renewal", Decimal("10000.00"))


def test_points_and_purchase_count_metrics(tiers, tier_brand, shopper):
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    for index in range(3):
        buy(shopper, f"P-{index}", "1000.00", bkk(2026, 4, 1 + index))
    TierProgram.objects.filter(brand=tier_brand).update(metric="purchases")
    Tier.objects.filter(pk=tiers["gold"].pk).update(threshold=3)
    Tier.objects.filter(pk=tiers["platinum"].pk).update(threshold=100)
    tiers_review(now=bkk(2027, 1, 1, 0, 30))
    assert TierChange.objects.get(member=shopper).value == Decimal("3.00")
    assert MemberTier.objects.get(member=shopper).tier == tiers["gold"]


def test_an_override_holds_the_tier_until_its_end_then_the_member_is_reviewed(tiers, tier_brand, shopper):
    staff = factories.staff_user(brands=[tier_brand])
    place(shopper, tiers["silver"], bkk(2027, 1, 1))
    with pytest.raises(ValidationFailed):
        tier_override(member=shopper, tier=tiers["platinum"], until=bkk(2026, 8, 1), reason=" ", staff_user=staff)
    with time_machine.travel(bkk(2026, 3, 1, 10, 0), tick=False):
        change = tier_override(member=shopper, tier=tiers["platinum"], until=bkk(2026, 8, 1),
                               reason="Service recovery after a complaint", staff_user=staff)
    assert (change.kind, change.staff_user, change.from_tier, change.to_tier) == (
        "override", staff, tiers["silver"], tiers["platinum"])
    row = MemberTier.objects.get(member=shopper)
    assert (row.tier, row.override_until, row.qualified_until, row.override_by) == (
        tiers["platinum"], bkk(2026, 8, 1), bkk(2026, 8, 1), staff)

    assert tiers_review(now=bkk(2026, 7, 31, 0, 30))["rows"] == 0
    assert MemberTier.objects.get(member=shopper).tier == tiers["platinum"]

    buy(shopper, "O-1", "12000.00", bkk(2026, 5, 1))
    tiers_review(now=bkk(2026, 8, 1, 0, 30))
    row = MemberTier.objects.get(member=shopper)
    # Window: the year before the override's end; 12,000 THB is Gold.
    assert (row.tier, row.override_until, row.override_reason, row.override_by) == (tiers["gold"], None, "", None)
    assert row.qualified_until == bkk(2027, 1, 1)
    assert TierChange.objects.filter(member=shopper).latest("id").kind == "downgrade"


def test_a_second_run_the_same_day_changes_nothing(tiers, tier_brand, shopper):
    TierProgram.objects.filter(brand=tier_brand).update(grace_days=14)
    others = [factories.MemberFactory(brand=tier_brand) for _ in range(3)]
    newcomer = factories.MemberFactory(brand=tier_brand)  # no row yet: joins Silver
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    place(others[0], tiers["gold"], bkk(2027, 1, 1))
    buy(others[0], "I-1", "60000.00", bkk(2026, 2, 1))
    place(others[1], tiers["platinum"], bkk(2027, 1, 1), grace_until=bkk(2026, 12, 20), grace_tier=tiers["gold"])
    place(others[2], tiers["silver"], bkk(2027, 1, 1))

    first = tiers_review(now=bkk(2027, 1, 1, 0, 30))
    assert (first["grace"], first["upgrade"], first["downgrade"], first["renewal"], first["entered"]) == (1, 1, 1, 1, 1)
    snapshot = sorted(MemberTier.objects.values_list("member_id", "tier_id", "qualified_until", "grace_until",
                                                     "grace_tier_id", "override_until", "achieved_at"))
    changes = list(TierChange.objects.order_by("id").values_list("id", "member_id", "kind"))
    assert len(changes) == 4
    assert MemberTier.objects.get(member=newcomer).tier == tiers["silver"]

    second = tiers_review(now=bkk(2027, 1, 1, 23, 0))
    assert second == {"run_key": "2027-01-01", "rows": 0, "entered": 0}
    assert sorted(MemberTier.objects.values_list("member_id", "tier_id", "qualified_until", "grace_until",
                                                 "grace_tier_id", "override_until", "achieved_at")) == snapshot
    assert list(TierChange.objects.order_by("id").values_list("id", "member_id", "kind")) == changes
    assert JobRun.objects.filter(job="tiers_review", run_key="2027-01-01").count() == 2


def test_review_changes_are_sent_on_line_in_a_batch_task(tiers, shopper, fake_line,
                                                          django_capture_on_commit_callbacks):
    place(shopper, tiers["gold"], bkk(2027, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        tiers_review(now=bkk(2027, 1, 1, 0, 30))
    (message,) = fake_line.inbox(shopper.line_user_id)
    assert "Your tier is now Silver (was Gold)." in flex_texts(message)
    change = TierChange.objects.get(member=shopper)
    from messaging.models import OutboundMessage

    assert OutboundMessage.objects.filter(dedupe_key=f"tier:{change.pk}").count() == 1
    # Retrying the fan-out sends nothing twice.
    from messaging.subscribers import notify_tier_changes

    with django_capture_on_commit_callbacks(execute=True):
        assert notify_tier_changes(shopper.brand_id, "2027-01-01", 0) == 1
    assert len(fake_line.inbox(shopper.line_user_id)) == 1
