"""The points liability report: outstanding points by currency and expiry month, in THB, brand-scoped."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from loyalty.models import PointCurrency
from loyalty.services.expiry import points_liability
from loyalty.services.ledger import Channel, Kind, Source, account_get_or_create, points_post
from tests import factories

BANGKOK = ZoneInfo("Asia/Bangkok")

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(brand, other_brand):
    """Acme (0.25 THB a point): 100 valid through 31 Dec 2026, 40 through 14 Jan 2027, 60 never
    expiring, 30 spent; stamps (1.5 THB): 7 never expiring. Other brand: 500 points."""
    PointCurrency.objects.filter(brand=brand).update(point_value=Decimal("0.25"))
    stamps = PointCurrency.objects.create(brand=brand, code="stamps", name="Stamps", point_value=Decimal("1.5"))
    PointCurrency.objects.filter(brand=other_brand).update(point_value=Decimal("1"))
    somchai, malee = factories.MemberFactory(brand=brand), factories.MemberFactory(brand=brand)
    factories.give_points(somchai, 100, key="dec", expires_at=datetime(2027, 1, 1, tzinfo=BANGKOK))
    factories.give_points(malee, 40, key="jan", expires_at=datetime(2027, 1, 15, tzinfo=BANGKOK))
    factories.give_points(malee, 30, key="spent", expires_at=datetime(2026, 12, 31, tzinfo=BANGKOK))
    factories.give_points(somchai, 60, key="never", expires_at=None)
    account = account_get_or_create(member=malee, currency=brand.currencies.get(is_default=True))
    points_post(account=account, amount=-30, kind=Kind.REDEEM, idempotency_key="spend",
                source=Source(channel=Channel.REWARD))  # takes the lot expiring first: "spent"
    factories.give_points(somchai, 7, key="stamps", currency=stamps)
    factories.give_points(factories.MemberFactory(brand=other_brand), 500, key="other",
                          expires_at=datetime(2027, 1, 1, tzinfo=BANGKOK))
    return brand


def rows(liability):
    return {currency.code: [(row.month and row.month.isoformat(), row.points, row.accounts, row.value)
                            for row in currency.rows] + [("total", currency.points, None, currency.value)]
            for currency in liability.currencies}


def test_outstanding_points_by_currency_and_expiry_month(ledger):
    liability = points_liability(brand_ids=[ledger.pk])

    assert rows(liability) == {
        "points": [("2026-12-01", 100, 1, Decimal("25.00")), ("2027-01-01", 40, 1, Decimal("10.00")),
                   (None, 60, 1, Decimal("15.00")), ("total", 200, None, Decimal("50.00"))],
        "stamps": [(None, 7, 1, Decimal("10.50")), ("total", 7, None, Decimal("10.50"))],
    }
    assert liability.value == Decimal("60.50")


def test_superusers_see_every_brand(ledger, other_brand):
    liability = points_liability(brand_ids=None)
    assert [currency.code for currency in liability.currencies] == ["points", "points", "stamps"]
    assert liability.value == Decimal("560.50")


@pytest.fixture
def staff_client(client, ledger):
    client.force_login(factories.staff_user(brands=[ledger]))
    return client


def test_the_report_shows_only_the_staff_brand(staff_client, other_brand):
    page = staff_client.get(reverse("admin:loyalty_pointcurrency_liability")).content.decode()

    assert "December 2026" in page and "January 2027" in page and "Never expires" in page
    assert "25.00" in page and "50.00" in page
    assert 'data-testid="liability-total">60.50<' in page
    assert "<td>500</td>" not in page and other_brand.name not in page


def test_a_staff_user_cannot_ask_for_another_brand(staff_client, other_brand):
    response = staff_client.get(reverse("admin:loyalty_pointcurrency_liability"), {"brand": other_brand.pk})
    assert response.status_code == 403
    response = staff_client.get(reverse("admin:loyalty_pointcurrency_liability_csv"), {"brand": other_brand.pk})
    assert response.status_code == 403


def test_the_csv_download(staff_client):
    response = staff_client.get(reverse("admin:loyalty_pointcurrency_liability_csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode("utf-8-sig").splitlines() == [
        "currency,expiry_month,points,accounts,thb_per_point,value_thb",
        "points,2026-12,100,1,0.2500,25.00",
        "points,2027-01,40,1,0.2500,10.00",
        "points,never,60,1,0.2500,15.00",
        "points,total,200,,0.2500,50.00",
        "stamps,never,7,1,1.5000,10.50",
        "stamps,total,7,,1.5000,10.50",
        ",total,,,,60.50",
    ]


def test_the_currency_list_links_to_the_report(staff_client):
    page = staff_client.get(reverse("admin:loyalty_pointcurrency_changelist")).content.decode()
    assert reverse("admin:loyalty_pointcurrency_liability") in page


def test_job_runs_are_for_superusers_and_reminders_are_brand_scoped(staff_client, client):
    from loyalty.services.expiry import points_expire_due

    points_expire_due()
    assert staff_client.get(reverse("admin:loyalty_jobrun_changelist")).status_code == 403
    assert staff_client.get(reverse("admin:loyalty_expiryreminder_changelist")).status_code == 200
    client.force_login(factories.staff_user(username="root", superuser=True))
    page = client.get(reverse("admin:loyalty_jobrun_changelist")).content.decode()
    assert "points_expire" in page
