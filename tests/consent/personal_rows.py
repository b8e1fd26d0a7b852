"""A member with a row in every kind of personal table: purchases, receipts, reviews, surveys, messages."""

from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from loyalty.activity.models import Survey, SurveyResponse
from loyalty.receipts.models import Receipt
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import Channel
from members.models import MemberChange
from members.profile import member_profile_update
from messaging.outbox import message_push
from tests import factories


def fill(member, *, order_id: str = "POS-1"):
    """Points, a purchase with two lines, a coupon, a receipt image, a review, survey answers, a message."""
    from campaigns.missions.models import ProductReview
    from loyalty.services.coupons import coupon_issue

    factories.give_points(member, 300, key=f"opening:{member.pk}")
    purchase = purchase_record(brand=member.brand, member=member, channel=Channel.POS, order_id=order_id,
                               total=Decimal("250.00"), purchased_at=timezone.now(),
                               lines=[LineInput(amount=Decimal("200.00"), sku="LATTE", category="coffee", quantity=2),
                                      LineInput(amount=Decimal("50.00"), sku="COOKIE", category="bakery")]).purchase
    reward = factories.RewardFactory(brand=member.brand)
    coupon = coupon_issue(member=member, reward=reward, key=f"test:{member.pk}").coupon
    receipt = Receipt(brand=member.brand, member=member, upload_key=f"up-{member.pk}", sha256="a" * 64,
                      phash="b" * 16, ocr_text="Nok Dee 0812223344 TOTAL 120.00", store_text="Cafe")
    receipt.image.save("r.jpg", ContentFile(b"\xff\xd8jpeg bytes"), save=False)
    receipt.save()
    ProductReview.objects.create(brand=member.brand, member=member, sku="LATTE", rating=5,
                                 text="My name is Nok and I love it")
    survey = Survey.objects.create(brand=member.brand, title="แบบสอบถาม", questions=[
        {"key": "why", "type": "text", "label": "Why?"},
        {"key": "flavour", "type": "choice", "label": "Flavour", "choices": [{"value": "sweet"}, {"value": "dark"}]}])
    SurveyResponse.objects.create(survey=survey, member=member, answers={"why": "Near my home in Sukhumvit 11",
                                                                          "flavour": "dark"})
    member_profile_update(member=member, changes={"first_name": "Noknoi"}, changed_by=None, channel="liff")
    message_push(member=member, template="hello", messages=[{"type": "text", "text": f"Hi {member.first_name}"}])
    return {"purchase": purchase, "coupon": coupon, "receipt": receipt, "survey": survey,
            "changes": MemberChange.objects.filter(member=member).count()}
