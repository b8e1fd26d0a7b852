"""Missions admin: actions through the services, preview, results, review moderation, brand scoping."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from campaigns.missions.models import Mission, Objective, ProductReview
from campaigns.missions.reviews import review_submit
from loyalty.models import MemberTier, Tier
from loyalty.services.earn_engine import LineInput
from loyalty.services.earning import purchase_refund
from tests import factories

from .conftest import buy, make_mission

pytestmark = pytest.mark.django_db(transaction=True)  # events are delivered on commit
Kind = Objective.Kind


@pytest.fixture
def staff(brand):
    user = factories.staff_user(brands=[brand])
    # members.demo.MANAGED_APPS does not list "missions" yet: grant them here.
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="missions"))
    return user


def test_publish_pause_and_end_actions_go_through_the_services(client, brand, staff):
    ready = make_mission(brand, [(Kind.SPEND, 100)], publish=False, name="พร้อม")
    empty = make_mission(brand, [], publish=False, name="ว่าง")
    client.force_login(staff)
    url = "/admin/missions/mission/"
    client.post(url, {"action": "publish", "_selected_action": [ready.pk, empty.pk]})
    assert Mission.objects.get(pk=ready.pk).status == Mission.Status.ACTIVE
    assert Mission.objects.get(pk=empty.pk).status == Mission.Status.DRAFT
    client.post(url, {"action": "pause", "_selected_action": [ready.pk]})
    assert Mission.objects.get(pk=ready.pk).status == Mission.Status.PAUSED
    client.post(url, {"action": "end", "_selected_action": [ready.pk]})
    assert Mission.objects.get(pk=ready.pk).status == Mission.Status.ENDED


def test_preview_and_results_pages(client, brand, staff):
    reward = factories.RewardFactory(brand=brand, name="ครัวซองต์")
    mission = make_mission(brand, [(Kind.SPEND, 500), (Kind.PRODUCT, 2, {"sku": "LATTE"})], points=50,
                           reward_coupon=reward)
    gold = Tier.objects.create(brand=brand, code="gold", name="โกลด์", rank=2)
    mission.tiers.set([gold])
    participant, other = factories.MemberFactory.create_batch(2, brand=brand)
    MemberTier.objects.create(member=participant, brand=brand, tier=gold)
    buy(participant, 600, lines=[LineInput(amount=Decimal("600"), sku="LATTE", quantity=2)])
    buy(participant, 100)
    refunded = buy(other, 300, lines=[LineInput(amount=Decimal("300"), sku="CAKE")])
    purchase_refund(brand=brand, purchase_id=refunded.pk, amount=Decimal("100"))

    client.force_login(staff)
    preview = client.get(f"/admin/missions/mission/{mission.pk}/preview/").content.decode()
    assert "Spend 500 THB" in preview and "Buy 2 × LATTE" in preview
    assert "Members of these tiers: โกลด์" in preview and "Members who qualify today: 1" in preview

    results = client.get(f"/admin/missions/mission/{mission.pk}/results/")
    assert results.status_code == 200
    figures = results.context["results"]
    assert (figures.participants, figures.completions, figures.points_given, figures.coupons_given) == (1, 1, 50, 1)
    assert (figures.participant_spend, figures.other_spend) == (Decimal("700.00"), Decimal("200.00"))


def test_staff_of_another_brand_see_nothing(client, brand, other_brand):
    mission = make_mission(brand, [(Kind.SPEND, 100)])
    outsider = factories.staff_user(brands=[other_brand], username="outsider")
    outsider.user_permissions.add(*Permission.objects.filter(content_type__app_label="missions"))
    client.force_login(outsider)
    assert client.get(f"/admin/missions/mission/{mission.pk}/results/").status_code == 404
    assert client.get(f"/admin/missions/mission/{mission.pk}/preview/").status_code == 404
    assert str(mission.name) not in client.get("/admin/missions/mission/").content.decode()


def test_publishing_a_review_in_admin_counts_for_the_review_objective(client, brand, staff):
    mission = make_mission(brand, [(Kind.REVIEW, 1)], points=20)
    member = factories.MemberFactory(brand=brand)
    buy(member, 100, lines=[LineInput(amount=Decimal("100"), sku="LATTE")])
    review = review_submit(member=member, sku="LATTE", rating=4, text="ดี")
    client.force_login(staff)
    client.post("/admin/missions/productreview/", {"action": "publish", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert (review.status, review.moderated_by) == (ProductReview.Status.PUBLISHED, staff)
    assert mission.progress.get(member=member).is_completed
    # a second moderation changes nothing
    client.post("/admin/missions/productreview/", {"action": "reject", "_selected_action": [review.pk]})
    assert ProductReview.objects.get(pk=review.pk).status == ProductReview.Status.PUBLISHED


def test_staff_compose_a_mission_with_objectives_in_the_add_form(client, brand, staff):
    client.force_login(staff)
    assert client.get("/admin/missions/mission/add/").status_code == 200
    currency = brand.currencies.get(is_default=True)
    data = {"brand": brand.pk, "name": "ใช้จ่ายครบ 500", "name_en": "Spend 500", "description": "",
            "description_en": "", "image_url": "", "starts_at_0": "2026-06-01", "starts_at_1": "00:00:00",
            "ends_at_0": "2026-06-08", "ends_at_1": "00:00:00", "window": "mission", "window_days": "",
            "max_completions": "", "reward_currency": currency.pk, "reward_points": "50", "reward_coupon": "",
            "objectives-TOTAL_FORMS": "2", "objectives-INITIAL_FORMS": "0", "objectives-MIN_NUM_FORMS": "0",
            "objectives-MAX_NUM_FORMS": "1000",
            "objectives-0-position": "0", "objectives-0-kind": "spend", "objectives-0-target": "500",
            "objectives-0-measure": "quantity",
            "objectives-1-position": "1", "objectives-1-kind": "product", "objectives-1-target": "2",
            "objectives-1-measure": "quantity"}
    missing_sku = client.post("/admin/missions/mission/add/", data)
    assert missing_sku.status_code == 200 and not Mission.objects.exists()
    data["objectives-1-sku"] = "LATTE"
    created = client.post("/admin/missions/mission/add/", data)
    assert created.status_code == 302
    mission = Mission.objects.get()
    assert mission.status == Mission.Status.DRAFT
    assert [(o.kind, o.target, o.sku) for o in mission.objectives.all()] == [
        ("spend", Decimal("500.00"), ""), ("product", Decimal("2.00"), "LATTE")]
