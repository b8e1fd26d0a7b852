"""KPIs on hand-built data (conftest.march), with the expected numbers written out."""

from datetime import date
from decimal import Decimal

from campaigns.analytics.facts import facts_rebuild
from campaigns.analytics.kpis import Period, channel_mix, dashboard_data, liability, period_for, period_kpis
from loyalty.services.expiry import points_liability

MARCH = Period(date(2025, 3, 1), date(2025, 3, 31))


def build():
    facts_rebuild(start=date(2025, 2, 1), end=date(2025, 3, 31))


def test_march_kpis(march):
    build()
    kpis = period_kpis(brand=march["brand"], period=MARCH)
    assert kpis == {
        "new_members": 2,  # A (1 Mar) and C (5 Mar); B registered in February
        "active_members": 3,  # A, B, C
        "repeat_members": 1,  # A bought twice
        "repeat_rate": Decimal("33.33"),  # 1 / 3
        "purchases": 4,
        "spend": Decimal("900.00"),  # 100 + 250 + 500 + 50
        "spend_per_member": Decimal("300.00"),  # 900 / 3
        "points_issued": 36,  # 4 + 10 + 20 + 2 (25 THB = 1 point)
        "points_redeemed": 10,
        "points_expired": 5,
        "redemption_rate": Decimal("27.78"),  # 10 / 36
    }


def test_previous_period_and_february(march):
    build()
    assert MARCH.previous() == Period(date(2025, 2, 1), date(2025, 2, 28))
    assert Period(date(2025, 3, 1), date(2025, 3, 18)).previous() == Period(date(2025, 2, 1), date(2025, 2, 18))
    assert Period(date(2025, 3, 10), date(2025, 3, 19)).previous() == Period(date(2025, 2, 28), date(2025, 3, 9))
    february = period_kpis(brand=march["brand"], period=MARCH.previous())
    assert february["new_members"] == 1 and february["active_members"] == 0
    assert february["repeat_rate"] is None and february["redemption_rate"] is None


def test_liability_in_thb_equals_the_open_lots(march):
    result = liability(brand=march["brand"])
    # A 24 − 10 = 14, B 10 + 5 − 5 = 10, C 2: 26 points × 0.25 THB
    assert result["currencies"] == [{"code": "points", "name": "Points", "points": 26, "value": Decimal("6.50")}]
    assert result["value"] == Decimal("6.50")
    assert points_liability(brand_ids=[march["brand"].pk]).value == Decimal("6.50")


def test_other_brand_is_never_counted(march):
    build()
    other = period_kpis(brand=march["other"], period=MARCH)
    assert other["active_members"] == 1 and other["spend"] == Decimal("1000.00") and other["points_issued"] == 40
    assert other["new_members"] == 1 and other["points_redeemed"] == 0
    assert liability(brand=march["other"])["value"] == Decimal("0.00")  # its point value is 0


def test_tops_channels_and_charts(march):
    build()
    data = dashboard_data(brand=march["brand"], period=MARCH)
    assert data["top_rewards"] == [{"name": "Free latte", "redemptions": 1, "points": 10}]
    assert data["top_branches"] == [  # by spend: A-2 had no branch
        {"name": "No branch (online)", "purchases": 1, "spend": Decimal("500.00")},
        {"name": march["branch"].name, "purchases": 3, "spend": Decimal("400.00")}]
    mix = {row["channel"]: row["points"] for row in channel_mix(brand=march["brand"], period=MARCH)}
    assert mix["pos"] == 36 and sum(mix.values()) == 36
    members = data["charts"]["members"]
    assert members["labels"][0] == "2025-03-01" and len(members["labels"]) == 31
    assert members["total"][0] == 2 and members["total"][-1] == 3  # B (Feb) + A on 1 Mar; + C
    weeks = data["charts"]["points"]
    assert weeks["labels"][0] == "2025-02-24"  # the Monday of 1 March's week
    assert sum(weeks["issued"]) == 36 and sum(weeks["redeemed"]) == 10 and sum(weeks["expired"]) == 5


def test_period_picker():
    today = date(2025, 3, 18)
    assert period_for("this_month", today=today) == Period(date(2025, 3, 1), today)
    assert period_for("last_month", today=today) == Period(date(2025, 2, 1), date(2025, 2, 28))
    assert period_for("last_30", today=today) == Period(date(2025, 2, 17), today)
    assert period_for("last_90", today=today).days == 90
    assert period_for("custom", today=today, start=date(2025, 3, 5), end=date(2025, 3, 1)) == Period(
        date(2025, 3, 1), date(2025, 3, 5))


def test_current_figures_are_served_stale_while_one_refresh_is_queued(march, settings,
                                                                      django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from campaigns.analytics import kpis
    from tests import factories

    cache.clear()
    brand, (a, _b, _c, _d) = march["brand"], march["members"]
    assert kpis.dashboard_warm(brand_ids=[brand.pk]) == 1
    assert dashboard_data(brand=brand, period=MARCH)["liability"]["currencies"][0]["points"] == 26

    factories.give_points(a, 40, key="late-bonus")  # liability is now 66 points
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert dashboard_data(brand=brand, period=MARCH)["liability"]["currencies"][0]["points"] == 26  # fresh
    assert queued == []

    settings.ANALYTICS_TODAY_TTL = 0  # every kept figure is now stale
    with django_capture_on_commit_callbacks(execute=True) as queued:
        shown = dashboard_data(brand=brand, period=MARCH)["liability"]["currencies"][0]["points"]
        again = dashboard_data(brand=brand, period=MARCH)["liability"]["currencies"][0]["points"]
    assert (shown, again) == (26, 26)  # the page never waited for the scan
    assert len(queued) == 1  # one refresh for the brand, not one per view
    assert dashboard_data(brand=brand, period=MARCH)["liability"]["currencies"][0]["points"] == 66
