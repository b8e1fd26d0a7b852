"""The LIFF race pages (Django test client) and the staff admin."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns.leaderboards.models import Race, Standing
from campaigns.leaderboards.services import race_close
from tests import factories

from .conftest import bangkok, make_race

START, END = bangkok(2026, 11, 1), bangkok(2026, 12, 1)


def race_staff(brand):
    """A brand manager; the race permissions are given here until ``members.demo.MANAGED_APPS`` lists the app."""
    user = factories.staff_user(brands=[brand])
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="leaderboards"))
    return user


def standings(race, rows):
    for first_name, value, hour in rows:
        member = factories.MemberFactory(brand=race.brand, first_name=first_name)
        Standing.objects.create(race=race, member=member, value=Decimal(value), reached_at=START + timedelta(hours=hour),
                                updated_at=START)


def test_the_race_page_shows_the_top_n_masked_and_how_far_the_member_is_behind_number_n(
        client, active_member, portal_brand, time_machine):
    time_machine.move_to(bangkok(2026, 11, 20))
    race = make_race(portal_brand, starts_at=START, ends_at=END, top_n=2, prizes=[(1, 1, 500, None)])
    standings(race, [("สมชาย", "1500", 1), ("Malee", "1200", 2), ("Anan", "900", 3)])
    Standing.objects.create(race=race, member=active_member, value=Decimal("700.50"), reached_at=START,
                            updated_at=START)

    page = client.get(reverse("liff:leaderboards:race", args=[portal_brand.slug, race.pk])).content.decode()

    assert "You are #4, 499.50 THB behind #2." in page
    assert "#1 สมช***" in page and "#2 Mal***" in page
    assert "Anan" not in page and "Ana***" not in page  # only the top 2
    assert "Your total: 700.50 THB" in page
    home = client.get(reverse("liff:leaderboards:home", args=[portal_brand.slug])).content.decode()
    assert "Top spender" in home and "You are #4, 499.50 THB behind #2." in home


def test_inside_the_top_n_the_member_is_compared_with_the_next_rank(client, active_member, portal_brand,
                                                                      time_machine):
    time_machine.move_to(bangkok(2026, 11, 20))
    race = make_race(portal_brand, starts_at=START, ends_at=END, top_n=3)
    standings(race, [("Malee", "1200", 2)])
    Standing.objects.create(race=race, member=active_member, value=Decimal("1000"), reached_at=START,
                            updated_at=START)

    page = client.get(reverse("liff:leaderboards:race", args=[portal_brand.slug, race.pk])).content.decode()

    assert "You are #2, 200.00 THB behind #1." in page
    assert 'aria-current="true"' in page and "#2 You" in page


def test_a_closed_race_shows_the_frozen_result(client, active_member, portal_brand, time_machine):
    time_machine.move_to(bangkok(2026, 12, 2))
    race = make_race(portal_brand, starts_at=START, ends_at=END, top_n=3)
    Standing.objects.create(race=race, member=active_member, value=Decimal("300"), reached_at=START,
                            updated_at=START)
    race_close(race_id=race.pk)

    page = client.get(reverse("liff:leaderboards:race", args=[portal_brand.slug, race.pk])).content.decode()

    assert "You finished #1!" in page


def test_draft_races_and_other_brands_races_are_not_found(client, active_member, portal_brand, other_brand):
    draft = make_race(portal_brand, starts_at=START, ends_at=END, activate=False)
    foreign = make_race(other_brand, starts_at=START, ends_at=END)
    for race in (draft, foreign):
        assert client.get(reverse("liff:leaderboards:race", args=[portal_brand.slug, race.pk])).status_code == 404


def test_staff_see_only_their_brands_races_with_live_standings_and_results(client, brand, other_brand):
    race = make_race(brand, starts_at=START, ends_at=END)
    standings(race, [("Malee", "1200", 2)])
    make_race(other_brand, starts_at=START, ends_at=END, name_en="Other brand race")
    client.force_login(race_staff(brand))

    listing = client.get(reverse("admin:leaderboards_race_changelist")).content.decode()
    change = client.get(reverse("admin:leaderboards_race_change", args=[race.pk])).content.decode()

    assert "Top spender" in listing and "Other brand race" not in listing
    assert "1,200.00 THB" in change and "Participants" in change


def test_staff_create_a_monthly_race_with_a_prize_and_start_it(client, brand, time_machine):
    time_machine.move_to(bangkok(2026, 11, 20))
    reward = factories.RewardFactory(brand=brand)
    client.force_login(race_staff(brand))
    data = {"brand": brand.pk, "name": "ยอดซื้อสูงสุด", "name_en": "November race", "metric": "spend",
            "period": "month", "starts_at_0": "2026-11-15", "starts_at_1": "10:00", "top_n": 3,
            "prizes-TOTAL_FORMS": 1, "prizes-INITIAL_FORMS": 0, "prizes-MIN_NUM_FORMS": 0,
            "prizes-MAX_NUM_FORMS": 1000, "prizes-0-rank_from": 1, "prizes-0-rank_to": 1, "prizes-0-points": 300,
            "prizes-0-reward": reward.pk}

    response = client.post(reverse("admin:leaderboards_race_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    race = Race.objects.get(name_en="November race")
    assert (race.starts_at, race.ends_at, race.status) == (bangkok(2026, 11, 1), bangkok(2026, 12, 1), "draft")
    assert [(p.rank_from, p.rank_to, p.points, p.reward_id) for p in race.prizes.all()] == [(1, 1, 300, reward.pk)]
    client.post(reverse("admin:leaderboards_race_changelist"),
                {"action": "start_races", "_selected_action": [race.pk]})
    race.refresh_from_db()
    assert race.status == "active"
