"""The v1 read and redeem paths: member balances and ledger, the rewards list, redemptions,
coupons, and refunds that reverse points pro rata."""

import itertools
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import (
    Coupon,
    EarnRule,
    LedgerEntry,
    PointAccount,
    PointCurrency,
    PointLot,
    Purchase,
    PurchaseRefund,
    Redemption,
    Reward,
)
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.ledger import BANGKOK
from loyalty.services.redemption import reward_redeem
from loyalty.services.verification import ledger_mismatches
from tests import factories

PURCHASES = "/api/v1/purchases/"
REWARDS = "/api/v1/rewards/"
REDEMPTIONS = "/api/v1/redemptions/"


def balance(member, code="points") -> int:
    return PointAccount.objects.get(member=member, currency__code=code).balance


def record_purchase(pos_client, member, order_id="POS-1", total="1000.00") -> dict:
    body = {
        "order_id": order_id,
        "member": {"code": member.code},
        "total": total,
        "lines": [{"sku": "LATTE", "quantity": 1, "amount": total}],
        "purchased_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "branch": "MAIN",
    }
    response = pos_client.post(PURCHASES, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def redeem(member, points_cost: int, request_id: str) -> Redemption:
    reward = factories.RewardFactory(brand=member.brand, points_cost=points_cost)
    return reward_redeem(brand=member.brand, member=member, reward_id=reward.pk, request_id=request_id).redemption


REFUND_IDS = itertools.count(1)


def refund(pos_client, purchase_id: int, **body):
    if "amount" in body and "refund_id" not in body:  # partial refunds carry their id
        body["refund_id"] = f"R-test-{next(REFUND_IDS)}"
    return pos_client.post(f"{PURCHASES}{purchase_id}/refund/", body, format="json")


@pytest.fixture
def stars(brand):
    """A second, non-default currency of the brand: 100 THB = 1 star."""
    currency = PointCurrency.objects.create(brand=brand, code="stars", name="Stars", is_default=False)
    EarnRule.objects.create(brand=brand, currency=currency, is_active=True, spend_amount=Decimal("100"), points=1)
    return currency


# --- member detail ------------------------------------------------------------------------------


def test_member_detail_shows_every_currency_of_the_brand_with_zero_where_there_is_no_account(
    pos_client, member, stars
):
    factories.give_points(member, 40, key="seed")
    assert not PointAccount.objects.filter(member=member, currency=stars).exists()
    response = pos_client.get(f"/api/v1/members/{member.code}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == member.code
    assert body["status"] == "active"
    assert body["phone"] == member.phone
    assert body["line_user_id"] == member.line_user_id
    assert body["balances"] == [
        {"currency": "points", "name": "Points", "is_default": True, "balance": 40},
        {"currency": "stars", "name": "Stars", "is_default": False, "balance": 0},
    ]
    assert not PointAccount.objects.filter(member=member, currency=stars).exists()  # reading creates nothing


def test_member_detail_shows_both_balances_after_a_purchase_earns_both_currencies(pos_client, member, stars):
    record_purchase(pos_client, member, total="1000.00")
    factories.give_points(member, 3, key="bonus-stars", currency=stars)
    response = pos_client.get(f"/api/v1/members/{member.code.lower()}/")
    assert response.status_code == 200, response.content
    assert [(b["currency"], b["balance"]) for b in response.json()["balances"]] == [("points", 40), ("stars", 13)]


def test_member_detail_of_a_member_without_any_account_shows_zero(pos_client, member):
    response = pos_client.get(f"/api/v1/members/{member.code}/")
    assert [(b["currency"], b["balance"]) for b in response.json()["balances"]] == [("points", 0)]


# --- member ledger --------------------------------------------------------------------------------


def make_history(member, rounds: int) -> None:
    """Three entries per round: an earn from a purchase, a staff adjustment, a redemption."""
    for n in range(rounds):
        purchase_record(brand=member.brand, member=member, channel="pos", order_id=f"H-{n}", total=Decimal("1000"),
                        lines=[LineInput(amount=Decimal("1000"))], purchased_at=timezone.now())
        factories.give_points(member, 5, key=f"adjust-{n}")
        redeem(member, 10, request_id=f"history-{n}")


def test_ledger_lists_entries_newest_first_with_their_order_and_reward(pos_client, member):
    make_history(member, 1)
    response = pos_client.get(f"/api/v1/members/{member.code}/ledger/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is None
    redeemed, adjusted, earned = body["results"]
    assert [e["kind"] for e in body["results"]] == ["redeem", "adjust", "earn"]
    assert [e["amount"] for e in body["results"]] == [-10, 5, 40]
    assert [e["balance_after"] for e in body["results"]] == [35, 45, 40]
    assert earned["order_id"] == "H-0"
    assert earned["reward"] is None
    assert earned["currency"] == "points"
    assert earned["expires_at"] is not None
    assert redeemed["reward"] == Reward.objects.get().name
    assert redeemed["order_id"] is None
    assert adjusted["channel"] == "staff"


def test_ledger_is_paginated_fifty_per_page_without_gaps_or_repeats(pos_client, member):
    make_history(member, 20)
    url = f"/api/v1/members/{member.code}/ledger/"
    first = pos_client.get(url).json()
    assert first["count"] == 60
    assert len(first["results"]) == 50
    assert first["previous"] is None
    second = pos_client.get(first["next"]).json()
    assert len(second["results"]) == 10
    assert second["next"] is None
    ids = [e["id"] for e in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True)
    assert ids == list(LedgerEntry.objects.filter(account__member=member).order_by("-id").values_list("id", flat=True))


def test_ledger_shows_only_this_members_entries(pos_client, brand, member):
    make_history(member, 1)
    someone_else = factories.MemberFactory(brand=brand)
    factories.give_points(someone_else, 7, key="theirs")
    response = pos_client.get(f"/api/v1/members/{someone_else.code}/ledger/")
    assert [e["amount"] for e in response.json()["results"]] == [7]


# auth (key lookup + last-used update), member, count, page
LEDGER_QUERIES = 5


@pytest.mark.parametrize("rounds", [1, 10], ids=["3-entries", "30-entries"])
def test_ledger_query_count_does_not_grow_with_entries(pos_client, member, django_assert_num_queries, rounds):
    make_history(member, rounds)
    url = f"/api/v1/members/{member.code}/ledger/"
    with django_assert_num_queries(LEDGER_QUERIES):
        response = pos_client.get(url)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3 * rounds


# --- rewards ----------------------------------------------------------------------------------


def test_rewards_list_shows_available_rewards_cheapest_first_and_hides_the_rest(pos_client, brand):
    now = timezone.now()
    unlimited = factories.RewardFactory(brand=brand, name="Free latte", name_en="Free latte", points_cost=100,
                                        value_thb=Decimal("95.00"))
    limited = factories.RewardFactory(brand=brand, name="Tote bag", points_cost=300, stock=3, coupon_valid_days=7)
    windowed = factories.RewardFactory(brand=brand, name="Season cake", points_cost=200,
                                       starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    factories.RewardFactory(brand=brand, name="Retired", points_cost=50, is_active=False)
    factories.RewardFactory(brand=brand, name="Ended", points_cost=50, ends_at=now - timedelta(seconds=1))
    factories.RewardFactory(brand=brand, name="Coming", points_cost=50, starts_at=now + timedelta(days=1))

    response = pos_client.get(REWARDS)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["id"] for r in results] == [unlimited.pk, windowed.pk, limited.pk]
    first = results[0]
    assert set(first) == {"id", "name", "name_en", "description", "points_cost", "currency", "stock", "value_thb",
                          "starts_at", "ends_at", "coupon_valid_days"}
    assert (first["points_cost"], first["stock"], first["currency"], first["value_thb"]) == (100, None, "points",
                                                                                            "95.00")
    assert (results[2]["stock"], results[2]["coupon_valid_days"]) == (3, 7)
    assert results[1]["ends_at"] is not None


# auth (key lookup + last-used update), count, page
REWARD_LIST_QUERIES = 4


@pytest.mark.parametrize("count", [1, 20])
def test_rewards_list_query_count_does_not_grow_with_rewards(pos_client, brand, django_assert_num_queries, count):
    factories.RewardFactory.create_batch(count, brand=brand)
    with django_assert_num_queries(REWARD_LIST_QUERIES):
        response = pos_client.get(REWARDS)
    assert len(response.json()["results"]) == count


# --- redemptions --------------------------------------------------------------------------------


@pytest.fixture
def latte(brand):
    return factories.RewardFactory(brand=brand, name="Free latte", points_cost=100, stock=3,
                                   value_thb=Decimal("95.00"), coupon_valid_days=30)


def test_redemption_debits_points_takes_stock_and_issues_a_coupon(pos_client, member, latte):
    factories.give_points(member, 250, key="seed")
    body = {"member": {"code": member.code}, "reward": latte.pk, "request_id": "R-1"}
    response = pos_client.post(REDEMPTIONS, body, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    redemption = Redemption.objects.get()
    coupon = Coupon.objects.get()
    assert answer["redemption_id"] == redemption.pk
    assert (answer["request_id"], answer["reward"], answer["points"], answer["balance"]) == ("R-1", latte.pk, 100, 150)
    assert answer["coupon_code"] == coupon.code
    assert len(coupon.code) == 16
    assert answer["coupon"]["status"] == "issued"
    assert answer["coupon"]["member_code"] == member.code
    assert answer["coupon"]["reward"] == {"id": latte.pk, "name": "Free latte", "value_thb": "95.00"}
    assert (coupon.member, coupon.reward, coupon.redemption) == (member, latte, redemption)
    assert balance(member) == 150
    latte.refresh_from_db()
    assert latte.stock == 2
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REDEEM)
    assert (entry.amount, entry.redemption, entry.balance_after) == (-100, redemption, 150)
    assert ledger_mismatches() == []


def test_coupon_is_valid_through_the_end_of_the_bangkok_day_its_validity_ends(pos_client, member, latte):
    factories.give_points(member, 100, key="seed")
    body = {"member": {"code": member.code}, "reward": latte.pk, "request_id": "R-1"}
    expires_at = Coupon.objects.get(code=pos_client.post(REDEMPTIONS, body, format="json").json()["coupon_code"])
    expected_day = timezone.localtime(timezone.now(), BANGKOK).date() + timedelta(days=31)
    assert expires_at.expires_at == datetime.combine(expected_day, time.min, tzinfo=BANGKOK)


def test_replayed_redemption_answers_200_with_the_same_body_and_writes_nothing(pos_client, member, latte):
    factories.give_points(member, 250, key="seed")
    body = {"member": {"code": member.code}, "reward": latte.pk, "request_id": "R-1"}
    first = pos_client.post(REDEMPTIONS, body, format="json")
    factories.give_points(member, 7, key="between")  # the balance moves between the two calls
    again = pos_client.post(REDEMPTIONS, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Redemption.objects.count() == 1
    assert Coupon.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM).count() == 1
    assert balance(member) == 157
    latte.refresh_from_db()
    assert latte.stock == 2


@pytest.mark.parametrize("identifier", ["phone", "line_user_id"])
def test_redemption_finds_the_member_by_phone_or_line_user(pos_client, member, latte, identifier):
    factories.give_points(member, 100, key="seed")
    ref = {"phone": member.phone.replace("+66", "0")} if identifier == "phone" else {"line_user_id": member.line_user_id}
    response = pos_client.post(REDEMPTIONS, {"member": ref, "reward": latte.pk, "request_id": "R-1"}, format="json")
    assert response.status_code == 201, response.content
    assert Redemption.objects.get().member == member
    assert balance(member) == 0


def test_redeeming_an_unlimited_reward_leaves_its_stock_unlimited(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand, points_cost=100, stock=None)
    factories.give_points(member, 200, key="seed")
    for request_id in ("R-1", "R-2"):
        body = {"member": {"code": member.code}, "reward": reward.pk, "request_id": request_id}
        assert pos_client.post(REDEMPTIONS, body, format="json").status_code == 201
    reward.refresh_from_db()
    assert reward.stock is None
    assert balance(member) == 0


def test_the_last_item_of_stock_can_be_redeemed_and_then_none_is_left(pos_client, brand, member):
    reward = factories.RewardFactory(brand=brand, points_cost=10, stock=1)
    factories.give_points(member, 100, key="seed")
    first = pos_client.post(REDEMPTIONS, {"member": {"code": member.code}, "reward": reward.pk, "request_id": "A"},
                            format="json")
    second = pos_client.post(REDEMPTIONS, {"member": {"code": member.code}, "reward": reward.pk, "request_id": "B"},
                             format="json")
    assert (first.status_code, second.status_code) == (201, 409)
    reward.refresh_from_db()
    assert reward.stock == 0
    assert balance(member) == 90


# --- coupons ---------------------------------------------------------------------------------


@pytest.fixture
def coupon(member, latte):
    factories.give_points(member, 100, key="seed")
    return reward_redeem(brand=member.brand, member=member, reward_id=latte.pk, request_id="R-1").redemption.coupon


def test_coupon_lookup_accepts_the_display_code_in_any_case(pos_client, member, coupon):
    response = pos_client.get(f"/api/v1/coupons/{coupon.display_code.lower()}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == coupon.code
    assert body["display_code"] == "-".join(coupon.code[i:i + 4] for i in range(0, 16, 4))
    assert (body["status"], body["used_at"], body["used_branch"]) == ("issued", None, None)
    assert body["member_code"] == member.code


def test_coupon_is_used_once_and_records_where(pos_client, brand, coupon):
    factories.BranchFactory(brand=brand, code="SECOND")
    url = f"/api/v1/coupons/{coupon.code}/use/"
    first = pos_client.post(url, {"branch": "MAIN", "reference": "bill 42"}, format="json")
    assert first.status_code == 200, first.content
    assert (first.json()["status"], first.json()["used_branch"]) == ("used", "MAIN")
    assert first.json()["used_at"] is not None
    coupon.refresh_from_db()
    used_at = coupon.used_at
    assert (coupon.status, coupon.used_branch.code, coupon.used_reference) == ("used", "MAIN", "bill 42")

    second = pos_client.post(url, {"branch": "SECOND", "reference": "again"}, format="json")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "coupon_already_used"
    coupon.refresh_from_db()
    assert (coupon.used_at, coupon.used_branch.code, coupon.used_reference) == (used_at, "MAIN", "bill 42")
    shown = pos_client.get(f"/api/v1/coupons/{coupon.code}/").json()
    assert (shown["status"], shown["used_branch"]) == ("used", "MAIN")


def test_coupon_used_without_a_branch_records_none(pos_client, coupon):
    response = pos_client.post(f"/api/v1/coupons/{coupon.display_code}/use/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["used_branch"] is None
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.USED
    assert coupon.used_branch is None


def test_using_a_coupon_moves_no_points(pos_client, member, coupon):
    entries = LedgerEntry.objects.count()
    pos_client.post(f"/api/v1/coupons/{coupon.code}/use/", {}, format="json")
    assert LedgerEntry.objects.count() == entries
    assert balance(member) == 0


# --- refunds -------------------------------------------------------------------------------------


def test_full_refund_reverses_all_the_points_of_the_purchase(pos_client, member):
    purchase = record_purchase(pos_client, member, total="1000.00")
    factories.give_points(member, 15, key="other-points")
    response = refund(pos_client, purchase["purchase_id"])
    assert response.status_code == 201, response.content
    assert response.json() == {
        "refund_id": "auto-1",
        "purchase_id": purchase["purchase_id"],
        "amount": "1000.00",
        "refunded_total": "1000.00",
        "status": "refunded",
        "points_reversed": 40,
        "points_shortfall": 0,
        "details": {"points": {"target": 40, "expired": 0, "reversed": 40, "shortfall": 0}},
    }
    assert balance(member) == 15
    reversal = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSE)
    earn = LedgerEntry.objects.get(kind=LedgerEntry.Kind.EARN)
    assert (reversal.amount, reversal.reverses, reversal.purchase_id) == (-40, earn, purchase["purchase_id"])
    assert PointLot.objects.get(entry=earn).remaining == 0  # taken from the purchase's own lot
    assert Purchase.objects.get().status == Purchase.Status.REFUNDED
    assert ledger_mismatches() == []


def test_partial_refunds_reverse_points_pro_rata_until_all_are_reversed(pos_client, member):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    assert balance(member) == 40

    first = refund(pos_client, purchase_id, amount="250.00")
    assert first.status_code == 201, first.content
    assert (first.json()["points_reversed"], first.json()["status"], first.json()["refunded_total"]) == (
        10, "partially_refunded", "250.00")
    assert balance(member) == 30

    second = refund(pos_client, purchase_id, amount="250.00", refund_id="second")
    assert (second.json()["refund_id"], second.json()["points_reversed"]) == ("second", 10)
    assert balance(member) == 20

    rest = refund(pos_client, purchase_id)
    assert (rest.json()["amount"], rest.json()["points_reversed"], rest.json()["status"]) == ("500.00", 20, "refunded")
    assert balance(member) == 0
    assert PurchaseRefund.objects.count() == 3
    assert ledger_mismatches() == []


def test_uneven_partial_refunds_reverse_exactly_the_points_earned_in_total(pos_client, member):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    reversed_points = [refund(pos_client, purchase_id, amount=amount).json()["points_reversed"]
                       for amount in ("333.33", "333.33", "333.34")]
    assert reversed_points == [13, 13, 14]  # floor of the cumulative share: 13.33, 26.67, 40
    assert balance(member) == 0


def test_refund_reverses_every_currency_the_purchase_earned(pos_client, member, stars):
    purchase = record_purchase(pos_client, member, total="1000.00")
    assert sorted((e["currency"], e["points"]) for e in purchase["earned"]) == [("points", 40), ("stars", 10)]
    response = refund(pos_client, purchase["purchase_id"], amount="250.00")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["points_reversed"] == 10  # the default currency
    assert body["details"] == {"points": {"target": 10, "expired": 0, "reversed": 10, "shortfall": 0},
                               "stars": {"target": 2, "expired": 0, "reversed": 2, "shortfall": 0}}
    assert (balance(member), balance(member, "stars")) == (30, 8)
    assert ledger_mismatches() == []


def test_refund_after_the_points_were_spent_records_the_shortfall_and_never_goes_negative(pos_client, member):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    redeem(member, 30, request_id="spend")
    assert balance(member) == 10
    response = refund(pos_client, purchase_id)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points_reversed"], body["points_shortfall"]) == (10, 30)
    assert body["details"]["points"] == {"target": 40, "expired": 0, "reversed": 10, "shortfall": 30}
    assert balance(member) == 0
    refund_row = PurchaseRefund.objects.get()
    assert (refund_row.points_reversed, refund_row.points_shortfall) == (10, 30)
    assert ledger_mismatches() == []


def test_partial_refund_with_nothing_left_to_reverse_writes_no_entry(pos_client, member):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    redeem(member, 40, request_id="spend-all")
    response = refund(pos_client, purchase_id, amount="500.00")
    assert response.status_code == 201, response.content
    assert (response.json()["points_reversed"], response.json()["points_shortfall"]) == (0, 20)
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSE).exists()
    assert balance(member) == 0
    assert Purchase.objects.get().refunded_total == Decimal("500.00")


@pytest.mark.parametrize("replay_amount", ["250.00", None], ids=["same-amount", "no-amount"])
def test_replayed_refund_id_answers_200_with_the_same_body_and_writes_nothing(pos_client, member, replay_amount):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    first = refund(pos_client, purchase_id, amount="250.00", refund_id="RF-1")
    factories.give_points(member, 7, key="between")
    replay = {"refund_id": "RF-1"} | ({"amount": replay_amount} if replay_amount else {})
    again = refund(pos_client, purchase_id, **replay)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert first.json()["refund_id"] == "RF-1"
    assert PurchaseRefund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSE).count() == 1
    assert balance(member) == 37
    assert Purchase.objects.get().refunded_total == Decimal("250.00")



def test_replayed_refund_id_after_a_later_refund_still_answers_the_first_body(pos_client, member):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    first = refund(pos_client, purchase_id, amount="250.00", refund_id="RF-1")
    assert refund(pos_client, purchase_id, amount="250.00", refund_id="RF-2").status_code == 201
    again = refund(pos_client, purchase_id, amount="250.00", refund_id="RF-1")
    assert again.status_code == 200
    assert again.json() == first.json()



def test_a_refund_without_id_after_one_whose_id_looks_generated_is_recorded(pos_client, member):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    assert refund(pos_client, purchase_id, amount="100.00", refund_id="refund-2").status_code == 201
    response = refund(pos_client, purchase_id, amount="100.00")
    assert response.status_code == 201, response.content
    assert response.json()["points_reversed"] == 4
    assert balance(member) == 32



def test_refund_when_a_due_lot_has_not_been_swept_yet_records_the_shortfall(pos_client, member):
    purchase_id = record_purchase(pos_client, member, total="1000.00")["purchase_id"]
    redeem(member, 30, request_id="spend")
    # 100 points whose expiry has passed but that the nightly job has not expired yet
    factories.give_points(member, 100, key="stale", expires_at=timezone.now() - timedelta(hours=1))
    assert balance(member) == 110
    response = refund(pos_client, purchase_id)
    assert response.status_code == 201, response.content
    assert (response.json()["points_reversed"], response.json()["points_shortfall"]) == (10, 30)
    assert balance(member) == 0
    assert ledger_mismatches() == []
