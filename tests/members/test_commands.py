import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from loyalty.models import LedgerEntry, PointAccount, Purchase
from members.models import ApiKey, Brand, Member


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_working_credentials(client):
    first = json.loads(run("seed_demo", "--json"))
    counts = (Member.objects.count(), Purchase.objects.count(), LedgerEntry.objects.count(), ApiKey.objects.count())
    second = json.loads(run("seed_demo", "--json"))
    assert second == first
    assert (Member.objects.count(), Purchase.objects.count(), LedgerEntry.objects.count(),
            ApiKey.objects.count()) == counts
    assert set(first) >= {"staff_username", "staff_password", "pos_api_key", "brand_slug", "branch_codes",
                          "line_channel_secret", "member_codes"}
    brand = Brand.objects.get(slug=first["brand_slug"])
    assert brand.line_channel_secret == first["line_channel_secret"]
    assert first["pos_api_key"] not in str(list(ApiKey.objects.values_list()))  # only the digest is stored
    assert Member.objects.filter(brand=brand, status=Member.Status.PENDING).exists()
    assert "Ledger clean" in run("verify_ledger")

    response = client.get(f"/api/v1/members/{first['member_codes'][0]}/",
                          HTTP_AUTHORIZATION=f"Api-Key {first['pos_api_key']}")
    assert response.status_code == 200
    assert response.json()["balances"][0]["balance"] > 0
    assert client.login(username=first["staff_username"], password=first["staff_password"])
    assert client.get("/admin/loyalty/ledgerentry/").status_code == 200


@pytest.mark.django_db
def test_verify_ledger_exits_non_zero_and_lists_every_mismatch():
    run("seed_demo")
    PointAccount.objects.filter(pk__in=PointAccount.objects.values("pk")[:2]).update(balance=999)
    err = StringIO()
    with pytest.raises(CommandError, match="ledger mismatches"):
        call_command("verify_ledger", stderr=err)
    assert err.getvalue().count("MISMATCH balance_vs_entries") == 2


def test_health_endpoint_checks_the_database(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "eager"}}


def test_api_docs_and_schema_answer(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/purchases/", "/api/v1/redemptions/", "/api/v1/coupons/{code}/use/"):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
