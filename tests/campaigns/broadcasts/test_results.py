"""Results: delivered, skipped, coupons issued and used, purchases in the window for sent vs holdout, uplift, ROI."""

from datetime import timedelta
from decimal import Decimal

from campaigns.broadcasts.models import Broadcast
from campaigns.broadcasts.selectors import broadcast_results, holdout_bucket
from campaigns.broadcasts.services import broadcast_start
from loyalty.services.earning import LineInput, purchase_record, purchase_refund
from loyalty.services.redemption import coupon_use
from tests import factories
from tests.consent.conftest import grant

from .conftest import make_broadcast


def buy(member, total, *, at, order_id):
    return purchase_record(brand=member.brand, member=member, channel="pos", order_id=order_id,
                           total=Decimal(total), lines=[LineInput(sku="LATTE", amount=Decimal(total))],
                           purchased_at=at)


def test_results_compare_the_members_sent_to_with_the_holdout(
        people, line_brand, segment, fake_line, django_capture_on_commit_callbacks):
    reward = factories.RewardFactory(brand=line_brand, points_cost=0, redeemable=False, value_thb=Decimal("20"))
    broadcast = make_broadcast(line_brand, segment, holdout_percent=50, results_days=7, coupon_reward=reward,
                               cost_per_message_thb=Decimal("0.50"), text_th="คูปอง {coupon_code}")
    # Members until there are four to send to (A-D) and two in the holdout (E, F); the hash decides which.
    sent_names, holdout_names = iter("ABCD"), iter("EF")
    sent, holdout = [], []
    while len(sent) < 4 or len(holdout) < 2:
        member = people.make("?", consent=False)  # left out unless their side still needs a member
        in_holdout = holdout_bucket(broadcast.pk, member.pk) < 50
        group, names = (holdout, holdout_names) if in_holdout else (sent, sent_names)
        name = next(names, None)
        if name is not None:
            grant(member, people.marketing)
            member.first_name = name
            member.save()
            group.append(member)
    people.make("G", consent=False)
    a, b, c, d = sent
    e, f = holdout

    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)
    start = broadcast.started_at = broadcast.started_at - timedelta(days=10)  # the window is in the past
    Broadcast.objects.filter(pk=broadcast.pk).update(started_at=start)

    buy(a, "300", at=start + timedelta(days=1), order_id="A1")
    refunded = buy(b, "200", at=start + timedelta(days=2), order_id="B1")
    purchase_refund(brand=line_brand, purchase_id=refunded.purchase.pk, amount=Decimal("50"))
    buy(c, "500", at=start + timedelta(days=8), order_id="C-late")  # after the 7-day window
    buy(c, "100", at=start - timedelta(hours=1), order_id="C-early")  # before the send
    buy(e, "120", at=start + timedelta(days=3), order_id="E1")
    coupon_use(brand=line_brand, code=a.coupons.get().code)

    results = broadcast_results(broadcast=broadcast)

    assert (results.delivered, results.failed, results.holdout_members) == (4, 0, 2)
    assert results.skipped["skipped_no_consent"] >= 1 and results.by_channel == {"line": 4}
    assert (results.coupons_issued, results.coupons_used) == (4, 1)
    assert (results.window_start, results.window_end) == (start, start + timedelta(days=7))
    assert (results.sent.members, results.sent.buyers, results.sent.spend) == (4, 2, Decimal("450.00"))
    assert (results.sent.conversion, results.sent.spend_per_member) == (Decimal("50.00"), Decimal("112.50"))
    assert (results.holdout.members, results.holdout.buyers, results.holdout.spend) == (2, 1, Decimal("120.00"))
    assert (results.holdout.conversion, results.holdout.spend_per_member) == (Decimal("50.00"), Decimal("60.00"))
    assert results.uplift_points == Decimal("0.00")
    assert results.incremental_spend == Decimal("210.00")  # (112.50 - 60.00) × 4
    assert results.cost == Decimal("22.00")  # 4 messages × 0.50 + 1 used coupon × 20
    assert results.roi_percent == Decimal("854.5")  # (210 - 22) / 22
    assert [len(fake_line.inbox(m.line_user_id)) for m in (a, b, c, d, e, f)] == [1, 1, 1, 1, 0, 0]


def test_without_a_holdout_there_is_no_uplift_or_roi(people, line_brand, segment, django_capture_on_commit_callbacks):
    people.make("A")
    broadcast = make_broadcast(line_brand, segment, cost_per_message_thb=Decimal("0.30"))
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_start(broadcast=broadcast)

    results = broadcast_results(broadcast=broadcast)

    assert (results.delivered, results.cost, results.uplift_points, results.roi_percent) == (
        1, Decimal("0.30"), None, None)
