"""Each condition type against hand-built members, with the expected members written out."""

from datetime import date
from decimal import Decimal

import pytest

from campaigns.segments.definition import definition_clean
from campaigns.segments.errors import SegmentDefinitionInvalid
from campaigns.segments.models import MemberStats, MemberTag, MemberTagging, RfmGroup
from campaigns.segments.services import members_matching
from campaigns.segments.stats import member_stats_rebuild
from loyalty.models import MemberTier, PointCurrency, Tier, TierProgram
from members.models import Member, ProfileField
from tests import factories

from .conftest import NOW, bangkok


def names(brand, *conditions, op="and", at=NOW):
    definition = definition_clean(brand=brand, definition={"op": op, "conditions": list(conditions)})
    return sorted(m.first_name for m in members_matching(brand=brand, definition=definition, at=at))


@pytest.fixture
def history(brand, people, buy):
    """Ann: 3 lattes (Mar, May, Jun), Bee: cake in May at branch B2, Cat: latte in January."""
    main = brand.branches.get(code="MAIN")
    second = factories.BranchFactory(brand=brand, code="B2", name="Siam")
    ann, bee, cat = people["ann"], people["bee"], people["cat"]
    buy(ann, "100", bangkok(2026, 3, 2, 8, 30), "A1", lines=[("LATTE", "coffee", "100")], branch=main)
    buy(ann, "120", bangkok(2026, 5, 4, 8, 10), "A2", lines=[("latte", "coffee", "120")], branch=main)
    buy(ann, "200", bangkok(2026, 6, 10, 9, 45), "A3", lines=[("LATTE", "coffee", "80"), ("CAKE", "bakery", "120")],
        branch=second)
    buy(bee, "900", bangkok(2026, 5, 20, 19, 0), "B1", lines=[("CAKE", "bakery", "900")], branch=second)
    buy(cat, "60", bangkok(2026, 1, 9, 13, 0), "C1", lines=[("LATTE", "coffee", "60")], branch=main)
    return {"main": main, "second": second}


def test_empty_definition_and_all_members_are_everyone_but_merged(brand, people, other_brand):
    factories.MemberFactory(brand=brand, first_name="Gone", status=Member.Status.MERGED)
    factories.MemberFactory(brand=other_brand, first_name="Other")
    assert names(brand) == ["Ann", "Bee", "Cat", "Dan", "Eve"]
    assert names(brand, {"type": "all"}) == ["Ann", "Bee", "Cat", "Dan", "Eve"]


def test_bought_sku_or_category_any_time_in_last_days_and_between_dates(brand, people, history):
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["latte"]}) == ["Ann", "Cat"]
    assert names(brand, {"type": "purchased", "by": "category", "codes": ["BAKERY"]}) == ["Ann", "Bee"]
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["LATTE"], "days": 90}) == ["Ann"]
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["LATTE", "CAKE"], "days": 30}) == ["Ann", "Bee"]
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["LATTE"], "until": "2026-01-31"}) == ["Cat"]
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["CAKE"], "since": "2026-06-01"}) == ["Ann"]
    # Across months, and inside one month (Ann bought on 4 May only, Bee on 20 May).
    assert names(brand, {"type": "purchased", "by": "category", "codes": ["coffee", "bakery"],
                         "since": "2026-04-01", "until": "2026-05-31"}) == ["Ann", "Bee"]
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["LATTE"],
                         "since": "2026-03-03", "until": "2026-03-31"}) == []


def test_a_window_inside_one_month_between_two_purchases_is_checked_on_the_lines(brand, people, buy):
    ann = people["ann"]
    buy(ann, "50", bangkok(2026, 4, 2, 9), "X1", lines=[("MOCHA", "coffee", "50")])
    buy(ann, "50", bangkok(2026, 4, 28, 9), "X2", lines=[("MOCHA", "coffee", "50")])
    mocha = {"type": "purchased", "by": "sku", "codes": ["MOCHA"]}
    assert names(brand, {**mocha, "since": "2026-04-10", "until": "2026-04-20"}) == []
    assert names(brand, {**mocha, "since": "2026-04-10", "until": "2026-04-28"}) == ["Ann"]
    assert names(brand, {**mocha, "since": "2026-04-02", "until": "2026-04-02"}) == ["Ann"]


def test_a_fully_refunded_purchase_is_not_bought(brand, people, buy, refund):
    purchase = buy(people["dan"], "70", bangkok(2026, 6, 1, 10), "D1", lines=[("TEA", "tea", "70")])
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["TEA"]}) == ["Dan"]
    refund(purchase)
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["TEA"]}) == []


def test_rfm_groups_after_the_nightly_rebuild(brand, people, history):
    member_stats_rebuild(brand=brand, now=NOW)
    groups = dict(MemberStats.objects.values_list("member__first_name", "rfm_group"))
    # 3 buyers: NTILE(5) gives scores 1, 2, 3 by ascending value.
    # R: Cat (Jan) 1, Bee (20 May) 2, Ann (10 Jun) 3. F: Bee 1, Cat 2, Ann 3 (count 1, 1, 3; ties by id).
    assert groups == {"Ann": RfmGroup.NEED_ATTENTION, "Bee": RfmGroup.HIBERNATING, "Cat": RfmGroup.HIBERNATING}
    assert names(brand, {"type": "rfm", "groups": ["need_attention"]}) == ["Ann"]
    assert names(brand, {"type": "rfm", "groups": ["hibernating", "lost"]}) == ["Bee", "Cat"]


def test_tags_any_and_all(brand, people):
    vip = MemberTag.objects.create(brand=brand, name="VIP")
    student = MemberTag.objects.create(brand=brand, name="Student")
    for person, tag in [("ann", vip), ("ann", student), ("bee", vip), ("cat", student)]:
        MemberTagging.objects.create(member=people[person], tag=tag)
    assert names(brand, {"type": "tags", "tags": [vip.pk, student.pk], "match": "any"}) == ["Ann", "Bee", "Cat"]
    assert names(brand, {"type": "tags", "tags": [vip.pk, student.pk], "match": "all"}) == ["Ann"]


def test_points_balance_range_in_the_default_or_a_chosen_currency(brand, people):
    stars = PointCurrency.objects.create(brand=brand, code="stars", name="Stars")
    factories.give_points(people["ann"], 150, key="a")
    factories.give_points(people["bee"], 40, key="b")
    factories.give_points(people["cat"], 500, key="c")
    factories.give_points(people["dan"], 90, key="d", currency=stars)
    assert names(brand, {"type": "points", "min": 100}) == ["Ann", "Cat"]
    assert names(brand, {"type": "points", "min": 100, "max": 200}) == ["Ann"]
    # Members without an account hold 0 points.
    assert names(brand, {"type": "points", "max": 50}) == ["Bee", "Dan", "Eve"]
    assert names(brand, {"type": "points", "currency": "stars", "min": 50}) == ["Dan"]


def test_reward_eligibility_is_balance_at_least_the_cost_in_its_currency(brand, people):
    reward = factories.RewardFactory(brand=brand, points_cost=100, name="Free latte")
    factories.give_points(people["ann"], 100, key="a")
    factories.give_points(people["bee"], 99, key="b")
    assert names(brand, {"type": "reward_eligible", "reward": reward.pk}) == ["Ann"]


def test_birth_month_gender_and_age_band(brand, people):
    assert names(brand, {"type": "birth_month", "months": [6]}) == ["Ann", "Dan"]
    assert names(brand, {"type": "gender", "genders": ["female", "other"]}) == ["Ann", "Dan"]
    assert names(brand, {"type": "gender", "genders": ["unspecified"]}) == ["Cat", "Eve"]
    # On 15 June 2026 (Bangkok): Ann 35 (36 on 20 June), Bee 25, Dan 60 today.
    assert names(brand, {"type": "age", "min": 25, "max": 35}) == ["Ann", "Bee"]
    assert names(brand, {"type": "age", "min": 60}) == ["Dan"]
    assert names(brand, {"type": "age", "max": 35}) == ["Ann", "Bee"]
    assert names(brand, {"type": "age", "min": 36, "max": 59}) == []


def test_tier_including_members_without_a_row_in_the_entry_tier(brand, people):
    TierProgram.objects.create(brand=brand)
    silver = Tier.objects.create(brand=brand, code="silver", name="Silver", rank=1)
    gold = Tier.objects.create(brand=brand, code="gold", name="Gold", rank=2, threshold=Decimal("3000"))
    MemberTier.objects.create(member=people["ann"], brand=brand, tier=gold)
    MemberTier.objects.create(member=people["bee"], brand=brand, tier=silver)
    assert names(brand, {"type": "tier", "tiers": ["gold"]}) == ["Ann"]
    assert names(brand, {"type": "tier", "tiers": ["silver"]}) == ["Bee", "Cat", "Dan", "Eve"]
    TierProgram.objects.filter(brand=brand).update(is_active=False)
    assert names(brand, {"type": "tier", "tiers": ["gold", "silver"]}) == []


def test_pending_members_and_chosen_individuals(brand, people):
    assert names(brand, {"type": "pending"}) == ["Eve"]
    assert names(brand, {"type": "members", "codes": "annaaaaa, DANDDDDD"}) == ["Ann", "Dan"]


def test_favourite_branch_usual_time_average_ticket_last_purchase(brand, people, history, buy):
    buy(people["bee"], "100", bangkok(2026, 5, 27, 19, 30), "B2", lines=[("CAKE", "bakery", "100")],
        branch=history["main"])
    # Ann: MAIN twice, B2 once; Bee: B2 once, MAIN once (a tie: the smaller id, MAIN); Cat: MAIN.
    assert names(brand, {"type": "favourite_branch", "branches": ["MAIN"]}) == ["Ann", "Bee", "Cat"]
    assert names(brand, {"type": "favourite_branch", "branches": ["B2"]}) == []
    # Ann Mondays 08-09h (2 Mar, 4 May are Mondays), Bee Wednesdays 19h, Cat Friday 13h.
    assert names(brand, {"type": "usual_time", "weekdays": [1]}) == ["Ann"]
    assert names(brand, {"type": "usual_time", "hour_from": 18, "hour_to": 21}) == ["Bee"]
    assert names(brand, {"type": "usual_time", "weekdays": [3, 5], "hour_from": 12}) == ["Bee", "Cat"]
    # Average ticket: Ann 140, Bee 500, Cat 60.
    assert names(brand, {"type": "average_ticket", "compare": "gte", "amount": "140"}) == ["Ann", "Bee"]
    assert names(brand, {"type": "average_ticket", "compare": "lte", "amount": "100"}) == ["Cat"]
    # Last purchase: Ann 10 Jun, Bee 27 May, Cat 9 Jan.
    assert names(brand, {"type": "last_purchase", "compare": "before", "date": "2026-05-27"}) == ["Cat"]
    assert names(brand, {"type": "last_purchase", "compare": "after", "date": "2026-05-27"}) == ["Ann"]


def test_custom_profile_field_values(brand, people):
    ProfileField.objects.create(brand=brand, key="drink", label_th="เครื่องดื่ม", kind=ProfileField.Kind.CHOICE,
                                choices=[{"value": "coffee"}, {"value": "tea"}])
    ProfileField.objects.create(brand=brand, key="likes", label_th="สนใจ", kind=ProfileField.Kind.MULTI_CHOICE,
                                choices=[{"value": "cake"}, {"value": "music"}])
    Member.objects.filter(pk=people["ann"].pk).update(custom_fields={"drink": "coffee", "likes": ["cake", "music"]})
    Member.objects.filter(pk=people["bee"].pk).update(custom_fields={"drink": "tea", "likes": ["music"]})
    Member.objects.filter(pk=people["cat"].pk).update(custom_fields={"drink": "coffee"})
    assert names(brand, {"type": "profile_field", "field": "drink", "values": ["coffee"]}) == ["Ann", "Cat"]
    assert names(brand, {"type": "profile_field", "field": "likes", "values": ["cake"]}) == ["Ann"]
    assert names(brand, {"type": "profile_field", "field": "likes", "values": ["cake", "music"]}) == ["Ann", "Bee"]


def test_and_or_nesting(brand, people, history):
    latte = {"type": "purchased", "by": "sku", "codes": ["LATTE"]}
    women_or_60 = {"op": "or", "conditions": [{"type": "gender", "genders": ["female"]}, {"type": "age", "min": 60}]}
    assert names(brand, latte, women_or_60) == ["Ann"]
    assert names(brand, latte, women_or_60, op="or") == ["Ann", "Cat", "Dan"]
    assert names(brand, {"type": "pending"}, {"op": "and", "conditions": [latte, {"type": "birth_month",
                                                                               "months": [6]}]},
                 op="or") == ["Ann", "Eve"]
    assert names(brand, {"type": "all"}, {"type": "pending"}, op="or") == ["Ann", "Bee", "Cat", "Dan", "Eve"]


def test_brand_isolation(brand, other_brand, people, buy):
    outsider = factories.MemberFactory(brand=other_brand, first_name="Zed", gender="female",
                                       birth_date=date(1990, 6, 1))
    buy(outsider, "100", bangkok(2026, 6, 1, 9), "Z1", lines=[("LATTE", "coffee", "100")])
    factories.give_points(outsider, 1000, key="z")
    assert names(brand, {"type": "gender", "genders": ["female"]}) == ["Ann"]
    assert names(brand, {"type": "purchased", "by": "sku", "codes": ["LATTE"]}) == []
    assert names(brand, {"type": "points", "min": 500}) == []
    assert names(other_brand, {"type": "birth_month", "months": [6]}) == ["Zed"]
    with pytest.raises(SegmentDefinitionInvalid) as error:  # another brand's member code
        definition_clean(brand=brand, definition={"conditions": [{"type": "members", "codes": [outsider.code]}]})
    assert list(error.value.fields) == ["conditions.0.codes"]


def test_invalid_definitions_name_each_field(brand):
    with pytest.raises(SegmentDefinitionInvalid) as error:
        definition_clean(brand=brand, definition={"op": "and", "conditions": [
            {"type": "purchased", "by": "sku", "codes": ["A", "B", "C", "D", "E", "F"]},
            {"type": "nope"},
            {"op": "or", "conditions": [{"type": "age", "min": 40, "max": 30}, {"type": "rfm", "groups": ["x"]}]},
            {"type": "points"},
            {"type": "last_purchase", "compare": "before", "date": "2026-13-01"},
        ]})
    assert error.value.code == "segment_definition_invalid"
    assert error.value.fields == {
        "conditions.0.codes": ["Choose at most 5."],
        "conditions.1.type": ["Choose a condition type."],
        "conditions.2.conditions.0.max": ["The oldest age is below the youngest."],
        "conditions.2.conditions.1.groups": ["Unknown: x."],
        "conditions.3.min": ["Give a minimum, a maximum or both."],
        "conditions.4.date": ["Enter a date (YYYY-MM-DD)."],
    }
