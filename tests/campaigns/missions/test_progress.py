"""Mission progress from domain events: purchases, refunds, every objective type, windows, audiences."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from campaigns.missions.errors import MissionHasNoObjectives, MissionStateInvalid
from campaigns.missions.models import Contribution, Mission, MissionProgress, Objective
from campaigns.missions.referrals import referral_record
from campaigns.missions.reviews import review_publish, review_reject, review_submit
from campaigns.missions.services import mission_end, mission_pause, mission_publish, objective_values
from loyalty.activity.models import ActivityRule, Survey
from loyalty.activity.services import check_in, survey_submit
from loyalty.models import Coupon, LedgerEntry, MemberTier, Tier
from loyalty.services.earn_engine import LineInput
from loyalty.services.earning import purchase_refund
from loyalty.services.verification import ledger_mismatches
from messaging.models import OutboundMessage
from tests import factories

from .conftest import buy, make_mission

pytestmark = pytest.mark.django_db(transaction=True)  # events are delivered on commit, as in production

BKK = ZoneInfo("Asia/Bangkok")
Kind = Objective.Kind


def progress_of(mission, member, cycle=1) -> MissionProgress:
    return MissionProgress.objects.get(mission=mission, member=member, cycle=cycle)


def values(mission, member, cycle=1) -> list[Decimal]:
    progress = progress_of(mission, member, cycle)
    found = objective_values([progress.pk]).get(progress.pk, {})
    return [found.get(objective.pk, Decimal("0")) for objective in mission.objectives.all()]


def mission_entries(mission) -> list[tuple[str, int]]:
    return list(LedgerEntry.objects.filter(idempotency_key__startswith=f"mission:{mission.pk}:")
                .order_by("id").values_list("idempotency_key", "amount"))


# --- purchases and refunds -------------------------------------------------------------------


def test_progress_adds_up_purchases_and_a_refund_takes_its_share_back_before_completion(member, spend_mission):
    first = buy(member, 300)
    buy(member, 150)
    assert values(spend_mission, member) == [Decimal("450.00")]

    purchase_refund(brand=member.brand, purchase_id=first.pk, amount=Decimal("100"))
    assert values(spend_mission, member) == [Decimal("350.00")]
    assert not progress_of(spend_mission, member).is_completed

    buy(member, 100)
    assert values(spend_mission, member) == [Decimal("450.00")]
    assert mission_entries(spend_mission) == []
    buy(member, 50)
    progress = progress_of(spend_mission, member)
    assert progress.is_completed
    assert mission_entries(spend_mission) == [(f"mission:{spend_mission.pk}:{member.pk}:1", 50)]
    refund_rows = Contribution.objects.filter(progress=progress, event_key__startswith="refund:")
    assert list(refund_rows.values_list("value", flat=True)) == [Decimal("-100.00")]
    assert ledger_mismatches() == []


def test_a_refund_after_completion_takes_nothing_back(member, spend_mission):
    purchase = buy(member, 600)
    assert progress_of(spend_mission, member).is_completed
    purchase_refund(brand=member.brand, purchase_id=purchase.pk)  # the whole purchase
    assert values(spend_mission, member) == [Decimal("600.00")]
    assert Contribution.objects.filter(event_key__startswith="refund:").count() == 0
    assert mission_entries(spend_mission) == [(f"mission:{spend_mission.pk}:{member.pk}:1", 50)]
    assert ledger_mismatches() == []


def test_a_replayed_purchase_event_counts_once(member, spend_mission):
    from campaigns.missions.services import purchase_progress

    purchase = buy(member, 300)
    purchase_progress(purchase_id=purchase.pk)
    purchase_progress(purchase_id=purchase.pk)
    assert values(spend_mission, member) == [Decimal("300.00")]


def test_completion_gives_points_and_a_coupon_once_and_a_line_message_once(member):
    reward = factories.RewardFactory(brand=member.brand, name="ครัวซองต์ฟรี", name_en="Free croissant", stock=5)
    mission = make_mission(member.brand, [(Kind.PURCHASES, 2)], points=80, reward_coupon=reward)
    buy(member, 100)
    buy(member, 100)
    progress = progress_of(mission, member)
    key = f"mission:{mission.pk}:{member.pk}:1"
    assert progress.is_completed and progress.points_entry.amount == 80
    assert list(Coupon.objects.filter(member=member).values_list("issue_key", flat=True)) == [key]
    assert reward.__class__.objects.get(pk=reward.pk).stock == 4

    from campaigns.missions.tasks import notify_completed

    notify_completed(progress.pk)  # a retried notification
    sent = OutboundMessage.objects.filter(template="mission_completed")
    assert list(sent.values_list("dedupe_key", flat=True)) == [key]
    assert "Test mission" in str(sent.get().messages) or "ภารกิจทดสอบ" in str(sent.get().messages)
    buy(member, 100)  # a once mission: nothing more
    assert MissionProgress.objects.filter(mission=mission, member=member).count() == 1
    assert ledger_mismatches() == []


# --- objective types -------------------------------------------------------------------------


def test_sku_quantity_counts_matching_lines_and_a_partial_refund_scales_them(member):
    mission = make_mission(member.brand, [(Kind.PRODUCT, 3, {"sku": "LATTE", "measure": "quantity"})])
    first = buy(member, 300, lines=[LineInput(amount=Decimal("200"), sku="LATTE", quantity=2),
                                    LineInput(amount=Decimal("100"), sku="CAKE", quantity=1)])
    assert values(mission, member) == [Decimal("2")]
    purchase_refund(brand=member.brand, purchase_id=first.pk, amount=Decimal("150"))  # half the bill
    assert values(mission, member) == [Decimal("1")]
    buy(member, 200, lines=[LineInput(amount=Decimal("200"), sku="LATTE", quantity=2)])
    assert values(mission, member) == [Decimal("3")]
    assert progress_of(mission, member).is_completed


def test_category_amount_counts_only_that_category(member):
    mission = make_mission(member.brand, [(Kind.PRODUCT, 200, {"category": "bakery", "measure": "amount"})])
    buy(member, 200, lines=[LineInput(amount=Decimal("120"), category="bakery"),
                            LineInput(amount=Decimal("80"), category="coffee")])
    assert values(mission, member) == [Decimal("120.00")]
    buy(member, 80, lines=[LineInput(amount=Decimal("80"), category="bakery")])
    assert progress_of(mission, member).is_completed


def test_purchases_count_and_a_fully_refunded_one_stops_counting(member):
    mission = make_mission(member.brand, [(Kind.PURCHASES, 3)])
    first = buy(member, 100)
    buy(member, 100)
    purchase_refund(brand=member.brand, purchase_id=first.pk)
    assert values(mission, member) == [Decimal("1")]
    buy(member, 100)
    buy(member, 100)
    assert progress_of(mission, member).is_completed


def test_different_branches_count_once_each(member):
    second_branch = factories.BranchFactory(brand=member.brand, code="SIAM")
    main = member.brand.branches.get(code="MAIN")
    mission = make_mission(member.brand, [(Kind.BRANCHES, 2)])
    buy(member, 100, branch=main)
    buy(member, 100, branch=main)
    assert values(mission, member) == [Decimal("1")]
    buy(member, 100, branch=second_branch)
    assert progress_of(mission, member).is_completed


def test_only_a_published_review_counts(member):
    staff = factories.staff_user(brands=[member.brand])
    mission = make_mission(member.brand, [(Kind.SPEND, 100), (Kind.REVIEW, 1)])
    buy(member, 120, lines=[LineInput(amount=Decimal("120"), sku="LATTE")])
    assert values(mission, member) == [Decimal("120.00"), Decimal("0")]
    review = review_submit(member=member, sku="LATTE", rating=5, text="อร่อยมาก")
    assert not progress_of(mission, member).is_completed
    review_publish(review=review, staff_user=staff)
    assert values(mission, member) == [Decimal("120.00"), Decimal("1")]
    assert progress_of(mission, member).is_completed


def test_a_rejected_review_does_not_count(member):
    staff = factories.staff_user(brands=[member.brand])
    mission = make_mission(member.brand, [(Kind.REVIEW, 1)])
    buy(member, 120, lines=[LineInput(amount=Decimal("120"), sku="LATTE")])
    review_reject(review=review_submit(member=member, sku="LATTE", rating=2), staff_user=staff)
    assert not MissionProgress.objects.filter(mission=mission).exists()


QUESTIONS = [{"key": "visits", "type": "choice", "label_th": "มาบ่อยไหม", "required": True,
              "choices": [{"value": "weekly", "th": "ทุกสัปดาห์", "en": "Every week"}]}]


def test_a_chosen_survey_counts_and_another_does_not(member):
    wanted = Survey.objects.create(brand=member.brand, title="แบบสอบถาม A", questions=QUESTIONS)
    other = Survey.objects.create(brand=member.brand, title="แบบสอบถาม B", questions=QUESTIONS)
    chosen = make_mission(member.brand, [(Kind.SURVEY, 1, {"survey": wanted})], name_en="Chosen")
    any_survey = make_mission(member.brand, [(Kind.SURVEY, 1)], name_en="Any")
    survey_submit(survey_id=other.pk, member=member, answers={"visits": "weekly"})
    assert progress_of(any_survey, member).is_completed
    assert not MissionProgress.objects.filter(mission=chosen).exists()
    survey_submit(survey_id=wanted.pk, member=member, answers={"visits": "weekly"})
    assert progress_of(chosen, member).is_completed


def test_daily_check_ins_count_one_per_day(member, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 9, 0, tzinfo=BKK), tick=False)
    ActivityRule.objects.create(brand=member.brand, activity="check_in", points=5, period="daily")
    mission = make_mission(member.brand, [(Kind.CHECK_INS, 2)])
    check_in(member=member)
    check_in(member=member)  # the same day: the activity app does not count it again
    assert values(mission, member) == [Decimal("1")]
    time_machine.move_to(datetime(2026, 3, 3, 9, 0, tzinfo=BKK), tick=False)
    check_in(member=member)
    assert progress_of(mission, member).is_completed


def test_referrals_count_for_the_referrer(member):
    mission = make_mission(member.brand, [(Kind.REFERRALS, 2)])
    friends = factories.MemberFactory.create_batch(2, brand=member.brand)
    assert referral_record(referred=friends[0], code=member.code.lower()) is not None
    assert referral_record(referred=friends[0], code=member.code).referrer == member  # once per referred member
    assert values(mission, member) == [Decimal("1")]
    referral_record(referred=friends[1], code=member.code)
    assert progress_of(mission, member).is_completed


# --- windows, repeats, audiences, status -----------------------------------------------------


def test_a_rolling_window_starts_at_the_first_progress_and_a_lapsed_one_starts_again(member, time_machine):
    start = datetime(2026, 5, 4, 10, 0, tzinfo=BKK)
    time_machine.move_to(start, tick=False)
    mission = make_mission(member.brand, [(Kind.SPEND, 500)], window=Mission.Window.ROLLING, window_days=3,
                           starts_at=start - timedelta(days=1), ends_at=start + timedelta(days=30))
    buy(member, 300)
    first = progress_of(mission, member)
    assert (first.window_starts_at, first.window_ends_at) == (start, start + timedelta(days=3))

    time_machine.move_to(start + timedelta(days=4), tick=False)
    buy(member, 300)  # the first window lapsed: a new attempt
    assert values(mission, member, cycle=1) == [Decimal("300.00")]
    assert values(mission, member, cycle=2) == [Decimal("300.00")]
    time_machine.move_to(start + timedelta(days=6), tick=False)
    buy(member, 200)
    assert not progress_of(mission, member, 1).is_completed
    assert progress_of(mission, member, 2).is_completed
    assert mission_entries(mission) == [(f"mission:{mission.pk}:{member.pk}:2", 50)]


def test_a_repeatable_mission_completes_up_to_its_limit(member):
    mission = make_mission(member.brand, [(Kind.SPEND, 100)], points=30, repeatable=True, max_completions=2)
    for _ in range(3):
        buy(member, 100)
    assert mission_entries(mission) == [(f"mission:{mission.pk}:{member.pk}:1", 30),
                                        (f"mission:{mission.pk}:{member.pk}:2", 30)]
    assert MissionProgress.objects.filter(mission=mission, member=member).count() == 2
    assert ledger_mismatches() == []


def test_audience_tiers_limit_who_progresses(brand):
    silver = Tier.objects.create(brand=brand, code="silver", name="ซิลเวอร์", rank=1)
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", rank=2)
    mission = make_mission(brand, [(Kind.SPEND, 100)])
    mission.tiers.set([gold])
    silver_member, gold_member, no_tier = factories.MemberFactory.create_batch(3, brand=brand)
    MemberTier.objects.create(member=silver_member, brand=brand, tier=silver)
    MemberTier.objects.create(member=gold_member, brand=brand, tier=gold)
    for member in (silver_member, gold_member, no_tier):
        buy(member, 100)
    assert list(MissionProgress.objects.filter(mission=mission).values_list("member_id", flat=True)) == [
        gold_member.pk]


def test_paused_draft_and_ended_missions_do_not_count(member):
    draft = make_mission(member.brand, [(Kind.SPEND, 100)], publish=False)
    paused = mission_pause(mission=make_mission(member.brand, [(Kind.SPEND, 100)]))
    buy(member, 100)
    assert not MissionProgress.objects.filter(mission__in=[draft, paused]).exists()
    mission_publish(mission=paused)
    buy(member, 100)
    assert progress_of(paused, member).is_completed
    mission_end(mission=paused)
    with pytest.raises(MissionStateInvalid):
        mission_publish(mission=paused)


def test_a_mission_without_objectives_cannot_be_published(brand):
    mission = make_mission(brand, [], publish=False)
    with pytest.raises(MissionHasNoObjectives):
        mission_publish(mission=mission)
    assert Mission.objects.get(pk=mission.pk).status == Mission.Status.DRAFT


def test_a_purchase_outside_the_mission_period_does_not_count(member, spend_mission):
    buy(member, 600, at=spend_mission.starts_at - timedelta(minutes=1))
    assert not MissionProgress.objects.filter(mission=spend_mission).exists()


def test_contributions_are_append_only(member, spend_mission):
    from config.append_only import AppendOnlyError

    buy(member, 100)
    row = Contribution.objects.get()
    row.value = Decimal("999")
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
