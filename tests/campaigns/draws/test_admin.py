"""Staff create, open and export draws in admin, for their own brand only."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from campaigns.draws.models import LuckyDraw
from campaigns.draws.services import draw_run, draw_tickets_buy, draw_tickets_grant
from tests import factories
from tests.campaigns.draws.conftest import make_draw


@pytest.fixture
def staff_client(client, brand):
    client.force_login(draw_staff(brands=[brand], username="draw-staff"))
    return client


def draw_staff(*, brands, username: str):
    """A brand manager; the draws permissions are given here until ``members.demo.MANAGED_APPS`` lists the app."""
    user = factories.staff_user(brands=brands, username=username)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="draws"))
    return user


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_staff_add_a_draw_with_prizes_and_open_it(staff_client, brand):
    now = timezone.localtime()
    form = {"brand": brand.pk, "name": "จับรางวัล", "name_en": "Lucky draw", "description": "", "description_en": "",
            "image_url": "", "currency": brand.currencies.get().pk, "ticket_cost": 50, "max_tickets_per_member": 10,
            "entries_open_at_0": now.date().isoformat(), "entries_open_at_1": "00:00:00",
            "entries_close_at_0": (now + timezone.timedelta(days=7)).date().isoformat(),
            "entries_close_at_1": "00:00:00",
            "draw_at_0": (now + timezone.timedelta(days=7)).date().isoformat(), "draw_at_1": "12:00:00",
            "prizes-TOTAL_FORMS": 1, "prizes-INITIAL_FORMS": 0, "prizes-MIN_NUM_FORMS": 1,
            "prizes-MAX_NUM_FORMS": 1000, "prizes-0-position": 1, "prizes-0-name": "ทอง", "prizes-0-name_en": "Gold",
            "prizes-0-quantity": 2, "prizes-0-points": 1000, "prizes-0-reward": ""}
    response = staff_client.post("/admin/draws/luckydraw/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    draw = LuckyDraw.objects.get()
    assert (draw.status, draw.prizes.get().quantity) == ("draft", 2)

    response = staff_client.post("/admin/draws/luckydraw/", {"action": "open_draws", "_selected_action": [draw.pk]})
    assert response.status_code == 302
    draw.refresh_from_db()
    assert draw.status == "open" and len(draw.seed_hash) == 64
    page = staff_client.get(f"/admin/draws/luckydraw/{draw.pk}/change/").content.decode()
    assert draw.seed_hash in page
    assert draw.seed not in page  # the seed stays secret until the draw


@pytest.mark.parametrize(("superuser", "error"), [
    (False, "Select a valid choice."), (True, "The reward must belong to the draw&#x27;s brand.")])
def test_a_prize_reward_of_another_brand_is_refused(client, brand, other_brand, superuser, error):
    client.force_login(factories.staff_user(brands=[brand], username="root", superuser=True) if superuser
                       else draw_staff(brands=[brand], username="draw-staff"))
    draw = make_draw(brand, open_now=False)
    foreign = factories.RewardFactory(brand=other_brand)
    response = client.post(f"/admin/draws/luckydraw/{draw.pk}/change/", {
        "brand": brand.pk, "name": draw.name, "name_en": draw.name_en, "description": "", "description_en": "",
        "image_url": "", "currency": draw.currency_id, "ticket_cost": 100, "max_tickets_per_member": "",
        "entries_open_at_0": timezone.localtime(draw.entries_open_at).date().isoformat(),
        "entries_open_at_1": timezone.localtime(draw.entries_open_at).time().isoformat(),
        "entries_close_at_0": timezone.localtime(draw.entries_close_at).date().isoformat(),
        "entries_close_at_1": timezone.localtime(draw.entries_close_at).time().isoformat(),
        "draw_at_0": timezone.localtime(draw.draw_at).date().isoformat(),
        "draw_at_1": timezone.localtime(draw.draw_at).time().isoformat(),
        "prizes-TOTAL_FORMS": 1, "prizes-INITIAL_FORMS": 1, "prizes-MIN_NUM_FORMS": 1, "prizes-MAX_NUM_FORMS": 1000,
        "prizes-0-id": draw.prizes.get().pk, "prizes-0-draw": draw.pk, "prizes-0-position": 1,
        "prizes-0-name": "x", "prizes-0-name_en": "", "prizes-0-quantity": 1, "prizes-0-reward": foreign.pk,
        "prizes-0-points": ""})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert draw.prizes.get().reward is None


def test_results_and_csv_exports_after_the_draw(staff_client, brand):
    draw = make_draw(brand, prizes=[("ทอง", "Gold", 1, None, 1000)])
    buyer, granted = factories.MemberFactory(brand=brand), factories.MemberFactory(brand=brand)
    factories.give_points(buyer, 500, key="test:buyer")
    draw_tickets_buy(draw=draw, member=buyer, tickets=3, request_id="r1")
    draw_tickets_grant(draw=draw, member=granted, tickets=2, key="mission:1")
    winners = draw_run(draw_id=draw.pk, now=draw.draw_at)

    page = staff_client.get(f"/admin/draws/luckydraw/{draw.pk}/change/").content.decode()
    for index, value in enumerate(["2", "5", "3", "2", "300", "1", "1", "0"]):
        assert f'<td data-figure="{index}">{value}</td>' in page
    entries = csv_rows(staff_client.get(f"/admin/draws/luckydraw/{draw.pk}/entries.csv"))
    assert [(int(row["member_id"]), row["tickets"], row["points_spent"]) for row in entries] == sorted(
        [(buyer.pk, "3", "300"), (granted.pk, "2", "0")])
    results = staff_client.get(f"/admin/draws/luckydraw/{draw.pk}/results.csv")
    assert results["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(results)
    assert [(row["slot"], int(row["member_id"]), row["prize"], row["points"]) for row in rows] == [
        ("1", winners[0].member_id, "ทอง", "1000")]


def test_staff_of_another_brand_see_nothing(client, brand, other_brand):
    draw = make_draw(brand)
    client.force_login(draw_staff(brands=[other_brand], username="other-staff"))
    assert client.get(f"/admin/draws/luckydraw/{draw.pk}/entries.csv").status_code == 404
    listing = client.get("/admin/draws/luckydraw/")
    assert listing.status_code == 200 and draw.name not in listing.content.decode()
