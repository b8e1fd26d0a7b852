"""A member who withdrew marketing consent receives no marketing message from any sender; transactional ones go.

Senders that exist today (``grep -rn "purpose=" --include=*.py``): the outbox's
``message_multicast`` (marketing by default) and ``message_push`` with a marketing purpose;
coupon promotions notify the coupon given: the birthday notice is marketing, the welcome and
purchase notices (answers to the member's own action) transactional; lucky draws, races, missions, tier changes, points and expiry reminders are
transactional. Broadcasts re-check consent per batch at send time: see
``tests/campaigns/broadcasts/test_sending.py::test_consent_withdrawn_between_scheduling_and_sending_excludes_the_member``.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.coupons.models import CouponRule
from campaigns.coupons.services import birthday_coupons_run, welcome_coupons
from loyalty.models import Coupon, Reward
from members.models import Member
from messaging.models import MessageDelivery, OutboundMessage
from messaging.outbox import message_multicast, message_push
from tests import factories

from .conftest import grant, liff_member

pytestmark = pytest.mark.django_db

MARKETING = OutboundMessage.Purpose.MARKETING


@pytest.fixture
def audience(client, fake_line, line_brand, docs):
    """``withdrew`` granted marketing at registration and withdrew it in the privacy centre; ``keeps`` did not."""
    withdrew = liff_member(client, fake_line, line_brand, docs)
    Member.objects.filter(pk=withdrew.pk).update(birth_date=date(1990, 5, 3))
    response = client.post(reverse("liff:privacy:centre", args=[line_brand.slug]),
                           {"action": "withdraw", "document": docs.marketing.document_id})
    assert response.status_code == 302
    keeps = factories.MemberFactory(brand=line_brand, line_reachable=True, birth_date=date(1991, 5, 3))
    fake_line.add_user(keeps.line_user_id)
    grant(keeps, docs.terms)
    grant(keeps, docs.privacy)
    grant(keeps, docs.marketing)
    withdrew.refresh_from_db()
    return withdrew, keeps


def marketing_received(member) -> int:
    return MessageDelivery.objects.filter(member=member, message__purpose=MARKETING).exclude(
        status__startswith="skipped").count()


def test_a_member_who_withdrew_receives_nothing_marketing_from_any_sender(
        audience, line_brand, fake_line, django_capture_on_commit_callbacks):
    withdrew, keeps = audience
    coupon = factories.RewardFactory(brand=line_brand, name="ส่วนลด 50", name_en="50 off", points_cost=0,
                                     redeemable=False, coupon_kind=Reward.CouponKind.AMOUNT_OFF,
                                     coupon_value=Decimal("50"))
    for trigger in (CouponRule.Trigger.BIRTHDAY, CouponRule.Trigger.WELCOME):
        CouponRule.objects.create(brand=line_brand, reward=coupon, trigger=trigger, name=trigger, name_en=trigger,
                                  status=CouponRule.Status.ACTIVE, limit=CouponRule.Limit.PER_YEAR)

    with django_capture_on_commit_callbacks(execute=True):
        # A marketing multicast (what a promotion blast uses today) and a marketing push.
        message_multicast(brand=line_brand, members=[withdrew, keeps], template="promo",
                          messages=[{"type": "text", "text": "Double points this weekend"}])
        message_push(member=withdrew, template="promo_push", purpose=MARKETING,
                     messages=[{"type": "text", "text": "Flash sale"}])
        # Coupon promotions: birthday (all members born in May) and welcome.
        birthday_coupons_run(today=date(2026, 5, 3))
        welcome_coupons(member_id=withdrew.pk)
        # A transactional message still goes.
        message_push(member=withdrew, template="points_earned", messages=[{"type": "text", "text": "+10 points"}])

    assert marketing_received(withdrew) == 0
    assert marketing_received(keeps) == 2  # the promotion multicast and the birthday coupon notice
    assert OutboundMessage.objects.filter(purpose=MARKETING, template__startswith="coupon").exists()
    assert MessageDelivery.objects.filter(member=withdrew, message__purpose=MARKETING).values_list(
        "status", flat=True).distinct().get() == MessageDelivery.Status.SKIPPED_NO_CONSENT
    # What reached the member's LINE: only transactional messages (their coupons and points).
    texts = [message.get("altText") or message.get("text") for message in fake_line.inbox(withdrew.line_user_id)]
    assert "Double points this weekend" not in texts and "Flash sale" not in texts
    assert "+10 points" in texts
    assert [m["text"] for m in fake_line.inbox(keeps.line_user_id) if m.get("type") == "text"] == [
        "Double points this weekend"]
    # The coupons themselves are benefits, given whatever the consent.
    assert Coupon.objects.filter(member=withdrew).count() == 2


def test_consent_is_read_at_send_time_not_cached(audience, line_brand, docs, fake_line,
                                                 django_capture_on_commit_callbacks):
    withdrew, keeps = audience
    with django_capture_on_commit_callbacks(execute=True):
        message_multicast(brand=line_brand, members=[withdrew, keeps], template="batch-1",
                          messages=[{"type": "text", "text": "batch 1"}])
    grant(keeps, docs.marketing, False)  # withdrawn between two batches of the same campaign
    grant(withdrew, docs.marketing, True)
    with django_capture_on_commit_callbacks(execute=True):
        message_multicast(brand=line_brand, members=[withdrew, keeps], template="batch-2",
                          messages=[{"type": "text", "text": "batch 2"}])
    assert [m["text"] for m in fake_line.inbox(keeps.line_user_id)] == ["batch 1"]
    assert [m["text"] for m in fake_line.inbox(withdrew.line_user_id)] == ["batch 2"]
