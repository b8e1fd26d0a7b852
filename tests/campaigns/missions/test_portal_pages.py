"""The missions pages of the member portal (Django test client): progress, reviews, invitations, referrals."""

from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.missions.models import MissionProgress, Objective, ProductReview, Referral
from loyalty.models import MemberTier, Tier
from loyalty.services.earn_engine import LineInput
from members.models import Member
from tests import factories
from tests.liff.conftest import liff_login
from tests.liff.test_portal import code_from_sms, register_post

from .conftest import buy, make_mission

pytestmark = pytest.mark.django_db
Kind = Objective.Kind


def test_the_missions_page_shows_progress_per_objective_time_left_and_the_completed_badge(
        client, active_member, portal_brand, django_capture_on_commit_callbacks):
    spend = make_mission(portal_brand, [(Kind.SPEND, 500), (Kind.PURCHASES, 3)], name_en="Spend and visit")
    done = make_mission(portal_brand, [(Kind.PURCHASES, 1)], name_en="First visit", points=10)
    gold = Tier.objects.create(brand=portal_brand, code="gold", name="โกลด์", rank=2)
    gold_only = make_mission(portal_brand, [(Kind.SPEND, 100)], name_en="Gold only")
    gold_only.tiers.set([gold])
    with django_capture_on_commit_callbacks(execute=True):
        buy(active_member, 120)
    with django_capture_on_commit_callbacks(execute=True):
        buy(active_member, 180)

    page = client.get(f"/liff/{portal_brand.slug}/missions/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Spend and visit" in html and "First visit" in html and "Gold only" not in html
    assert "Spend 500 THB" in html and "300 / 500" in html
    assert "Make 3 purchases" in html and "2 / 3" in html
    assert 'aria-valuenow="60"' in html and 'aria-valuenow="66"' in html
    assert "6 days left" in html
    assert html.count('data-testid="mission-completed"') == 1
    assert MissionProgress.objects.get(mission=done).is_completed

    detail = client.get(f"/liff/{portal_brand.slug}/missions/{spend.pk}/")
    assert detail.status_code == 200 and "Complete every objective" in detail.content.decode()
    assert client.get(f"/liff/{portal_brand.slug}/missions/{gold_only.pk}/").status_code == 404

    MemberTier.objects.create(member=active_member, brand=portal_brand, tier=gold)
    assert "Gold only" in client.get(f"/liff/{portal_brand.slug}/missions/").content.decode()


def test_the_missions_page_is_in_thai_for_a_thai_member(client, active_member, portal_brand):
    Member.objects.filter(pk=active_member.pk).update(language="th")
    make_mission(portal_brand, [(Kind.SPEND, 500)], name="ใช้จ่ายครบ 500 บาท")
    html = client.get(f"/liff/{portal_brand.slug}/missions/").content.decode()
    assert "ใช้จ่ายครบ 500 บาท" in html and "0 / 500" in html


def test_a_member_reviews_only_products_they_bought_and_each_once(client, active_member, portal_brand):
    buy(active_member, 150, lines=[LineInput(amount=Decimal("100"), sku="LATTE-ICED", category="Iced latte"),
                                   LineInput(amount=Decimal("50"), sku="COOKIE", category="Cookie")])
    url = f"/liff/{portal_brand.slug}/missions/reviews/"
    page = client.get(url).content.decode()
    assert 'data-testid="review-LATTE-ICED"' in page and 'data-testid="review-COOKIE"' in page

    sent = client.post(url, {"sku": "LATTE-ICED", "rating": "5", "text": "หอมมาก"})
    assert sent.status_code == 302 and sent["Location"].endswith("?done=1")
    review = ProductReview.objects.get()
    assert (review.member, review.sku, review.rating, review.status, review.product_name) == (
        active_member, "LATTE-ICED", 5, ProductReview.Status.PENDING, "Iced latte")

    assert client.post(url, {"sku": "LATTE-ICED", "rating": "4"}).status_code == 400  # once per SKU
    assert client.post(url, {"sku": "MOCHA", "rating": "4"}).status_code == 400  # never bought
    assert client.post(url, {"sku": "COOKIE", "rating": "9"}).status_code == 400
    assert ProductReview.objects.count() == 1


def test_the_invite_page_shows_the_members_referral_link(client, active_member, portal_brand):
    html = client.get(f"/liff/{portal_brand.slug}/missions/invite/").content.decode()
    assert f"/liff/{portal_brand.slug}/register/?ref={active_member.code}" in html
    assert "Friends who registered through your link: 0" in html


def test_a_friend_who_registers_through_the_link_counts_for_the_referrer(
        client, fake_line, portal_brand, consents, django_capture_on_commit_callbacks):
    referrer = factories.MemberFactory(brand=portal_brand)
    mission = make_mission(portal_brand, [(Kind.REFERRALS, 1)], points=100)
    friend = liff_login(client, fake_line, portal_brand, "U" + "7" * 32)
    assert client.get(f"/liff/{portal_brand.slug}/register/?ref={referrer.code}").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/liff/{portal_brand.slug}/register/", {"phone": "0815550009", "action": "send_code"})
    with django_capture_on_commit_callbacks(execute=True):
        done = register_post(client, portal_brand, code=code_from_sms(),
                             consents=[consents["terms"].pk, consents["privacy"].pk])
    assert done.status_code == 302
    referral = Referral.objects.get()
    assert (referral.referrer, referral.referred) == (referrer, friend)
    progress = MissionProgress.objects.get(mission=mission, member=referrer)
    assert progress.is_completed and progress.points_entry.amount == 100
    assert progress.completed_at <= timezone.now()


def test_a_registration_without_a_link_or_with_ones_own_code_records_no_referral(
        client, fake_line, portal_brand, consents, django_capture_on_commit_callbacks):
    friend = liff_login(client, fake_line, portal_brand, "U" + "8" * 32)
    client.get(f"/liff/{portal_brand.slug}/register/?ref={friend.code}")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/liff/{portal_brand.slug}/register/", {"phone": "0815550010", "action": "send_code"})
    register_post(client, portal_brand, code=code_from_sms(), consents=[consents["terms"].pk, consents["privacy"].pk])
    assert Member.objects.get(pk=friend.pk).status == Member.Status.ACTIVE
    assert not Referral.objects.exists()
