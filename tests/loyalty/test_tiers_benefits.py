"""Tier benefits: rewards for a tier and above, the birthday bonus; concurrent upgrades; admin override."""

import threading
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from loyalty.activity.services import birthday_awards_run, tier_birthday_awards_run
from loyalty.models import (
    LedgerEntry,
    MemberTier,
    PointAccount,
    Purchase,
    Redemption,
    Tier,
    TierChange,
    TierProgram,
)
from loyalty.selectors import rewards_for_member
from loyalty.services.ledger import Channel
from loyalty.services.redemption import reward_redeem
from loyalty.services.tiers import RewardTierRequired, member_tier_evaluate
from loyalty.services.verification import ledger_mismatches
from tests import factories

BKK = ZoneInfo("Asia/Bangkok")


@pytest.fixture
def program(brand):
    TierProgram.objects.create(brand=brand, metric="spend", period="calendar_year")
    silver = Tier.objects.create(brand=brand, code="silver", name="ซิลเวอร์", name_en="Silver", rank=1)
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", name_en="Gold", rank=2,
                               threshold=Decimal("10000"), birthday_bonus=200)
    return {"silver": silver, "gold": gold}


def in_tier(member, tier):
    return MemberTier.objects.create(member=member, brand=member.brand, tier=tier,
                                     qualified_until=datetime(2030, 1, 1, tzinfo=BKK))


def test_a_gold_only_reward_is_refused_to_a_silver_member_and_nothing_is_written(program, brand, member):
    in_tier(member, program["silver"])
    reward = factories.RewardFactory(brand=brand, name="Gold lounge", points_cost=100, min_tier=program["gold"],
                                     stock=5)
    factories.give_points(member, 500, key="seed")
    with pytest.raises(RewardTierRequired) as refused:
        reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id="t-1")
    assert refused.value.code == "reward_tier_required"
    assert Redemption.objects.count() == 0
    reward.refresh_from_db()
    assert reward.stock == 5
    assert PointAccount.objects.get(member=member).balance == 500
    assert rewards_for_member(member=member) == [(reward, False)]

    gold_member = factories.MemberFactory(brand=brand)
    in_tier(gold_member, program["gold"])
    factories.give_points(gold_member, 500, key="seed-gold")
    assert reward_redeem(brand=brand, member=gold_member, reward_id=reward.pk, request_id="t-2").created
    assert PointAccount.objects.get(member=gold_member).balance == 400
    assert rewards_for_member(member=gold_member) == [(reward, True)]


def test_the_api_answers_403_reward_tier_required(program, brand, member, pos_client):
    reward = factories.RewardFactory(brand=brand, points_cost=100, min_tier=program["gold"])
    factories.give_points(member, 500, key="seed")
    response = pos_client.post("/api/v1/redemptions/", {"member": {"code": member.code}, "reward": reward.pk,
                                                        "request_id": "api-1"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "reward_tier_required"
    open_reward = factories.RewardFactory(brand=brand, points_cost=50)

    def listed(query=""):
        listing = pos_client.get(f"/api/v1/rewards/{query}").json()
        return [row["id"] for row in (listing["results"] if isinstance(listing, dict) else listing)]

    assert listed() == [open_reward.pk, reward.pk]
    assert listed(f"?member={member.code}") == [open_reward.pk]  # no tier: the Gold reward is hidden
    in_tier(member, program["gold"])
    assert listed(f"?member={member.code}") == [open_reward.pk, reward.pk]
    detail = pos_client.get(f"/api/v1/members/{member.code}/").json()
    assert detail["tier"]["code"] == "gold" and detail["tier"]["rank"] == 2


def test_the_tier_birthday_bonus_is_given_once_a_year_and_the_ledger_stays_clean(program, brand):
    born_today = factories.MemberFactory(brand=brand, birth_date=date(1990, 7, 14))
    silver_born_today = factories.MemberFactory(brand=brand, birth_date=date(1991, 7, 14))
    gold_other_day = factories.MemberFactory(brand=brand, birth_date=date(1990, 7, 15))
    in_tier(born_today, program["gold"])
    in_tier(silver_born_today, program["silver"])
    in_tier(gold_other_day, program["gold"])

    now = datetime(2026, 7, 14, 8, 0, tzinfo=BKK)
    assert birthday_awards_run(today=date(2026, 7, 14), now=now) == 1  # no activity rule: the tier bonus only
    assert tier_birthday_awards_run(today=date(2026, 7, 14), now=now) == 0  # once a year
    entry = LedgerEntry.objects.get(idempotency_key=f"tier:birthday:{born_today.pk}:2026")
    assert (entry.amount, entry.kind, entry.channel) == (200, "earn", "activity")
    assert PointAccount.objects.get(member=born_today).balance == 200
    assert not PointAccount.objects.filter(member__in=[silver_born_today, gold_other_day]).exists()
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_purchases_upgrade_once():
    brand = factories.brand_with_program(slug="race")
    TierProgram.objects.create(brand=brand)
    Tier.objects.create(brand=brand, code="silver", name="Silver", rank=1)
    gold = Tier.objects.create(brand=brand, code="gold", name="Gold", rank=2, threshold=Decimal("10000"))
    member = factories.MemberFactory(brand=brand, line_user_id=None)
    for index in range(2):  # the rows only (no event): the two evaluations race below
        Purchase.objects.create(brand=brand, member=member, channel=Channel.POS, order_id=f"C-{index}",
                                total=Decimal("6000"), purchased_at=datetime.now(tz=BKK))
    barrier, results = threading.Barrier(2), []

    def evaluate():
        try:
            barrier.wait()
            results.append(member_tier_evaluate(member_id=member.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result is not None for result in results) == 1
    assert MemberTier.objects.get(member=member).tier == gold
    assert list(TierChange.objects.filter(member=member).values_list("kind", flat=True)) == ["upgrade"]


def test_staff_set_a_tier_until_a_date_in_admin_with_a_required_reason(program, brand, member, client):
    admin_user = factories.staff_user(username="boss", superuser=True)
    client.force_login(admin_user)
    url = f"/admin/loyalty/membertier/override/{member.pk}/"
    refused = client.post(url, {"tier": program["gold"].pk, "until": "2099-08-31", "reason": ""})
    assert refused.status_code == 200 and not TierChange.objects.exists()
    response = client.post(url, {"tier": program["gold"].pk, "until": "2099-08-31", "reason": "Key account"})
    assert response.status_code == 302
    row = MemberTier.objects.get(member=member)
    assert (row.tier, row.override_until, row.override_by) == (
        program["gold"], datetime(2099, 9, 1, tzinfo=BKK), admin_user)
    change = TierChange.objects.get(member=member)
    assert (change.kind, change.reason, change.staff_user) == ("override", "Key account", admin_user)
    assert client.get(f"/admin/loyalty/membertier/{member.pk}/change/").status_code == 200
    assert client.get("/admin/loyalty/tierchange/").status_code == 200
    assert client.get("/admin/loyalty/tierprogram/").status_code == 200
