"""Generating batches: 100,000 codes quickly, unguessable, stored only as digests, found by index."""

import re
import time

import pytest
from django.db import connection

from config.domain import ValidationFailed
from loyalty.claims import services
from loyalty.claims.codes import code_digest, code_normalise
from loyalty.claims.models import ClaimBatch, ClaimCode
from loyalty.claims.selectors import claim_batch_codes
from loyalty.claims.services import claim_batch_create, claim_code_redeem
from loyalty.services.verification import ledger_mismatches
from members.models import MEMBER_CODE_ALPHABET
from tests import factories

CODE_SHAPE = re.compile(rf"^[{MEMBER_CODE_ALPHABET}]{{4}}(-[{MEMBER_CODE_ALPHABET}]{{4}}){{3}}$")


def test_a_batch_of_100000_codes_is_generated_in_seconds_and_a_code_is_found_by_its_unique_index(brand, member):
    started = time.perf_counter()
    batch, codes = claim_batch_create(brand=brand, name="Instant noodles", points=5, quantity=100_000)
    elapsed = time.perf_counter() - started
    print(f"\n100,000 claim codes generated in {elapsed:.2f} s")
    assert elapsed < 20

    assert len(codes) == len(set(codes)) == 100_000
    assert all(CODE_SHAPE.match(code) for code in codes[:1000])
    assert ClaimCode.objects.filter(batch=batch).count() == 100_000

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE claims_claimcode")
    digest = code_digest(code_normalise(codes[54_321]))
    plan = ClaimCode.objects.filter(code_digest=digest).explain()
    assert "Index" in plan and "Seq Scan" not in plan, plan
    found = ClaimCode.objects.get(code_digest=digest)
    assert (found.batch_id, found.number) == (batch.pk, 54_322)

    started = time.perf_counter()
    entry = claim_code_redeem(member=member, code=codes[99_999].lower())
    assert time.perf_counter() - started < 1
    assert entry.amount == 5
    assert ledger_mismatches() == []


def test_only_digests_and_an_encrypted_secret_are_stored(brand, make_batch):
    batch, codes = make_batch(brand, quantity=20)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM claims_claimbatch WHERE id = %s", [batch.pk])
        (stored_secret,) = cursor.fetchone()
        cursor.execute("SELECT * FROM claims_claimcode WHERE batch_id = %s", [batch.pk])
        rows = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert batch.secret not in stored_secret  # Fernet ciphertext, not the hex secret
    for code in codes:
        assert code not in rows and code_normalise(code) not in rows
        assert code_digest(code_normalise(code)) in rows


def test_codes_are_derived_again_from_the_secret_for_the_downloads(brand, make_batch):
    batch, codes = make_batch(brand, quantity=30)
    batch = ClaimBatch.objects.get(pk=batch.pk)
    assert [code for _number, code in claim_batch_codes(batch=batch)] == codes
    assert list(claim_batch_codes(batch=batch, start=29, count=10)) == [(29, codes[28]), (30, codes[29])]


def test_two_batches_never_share_a_code(brand, make_batch):
    _first, first_codes = make_batch(brand, quantity=1000)
    _second, second_codes = make_batch(brand, quantity=1000)
    assert not set(first_codes) & set(second_codes)


def test_a_digest_collision_starts_the_batch_over_with_a_new_secret(brand, make_batch, monkeypatch):
    _existing, existing_codes = make_batch(brand, quantity=3)
    real_derive = services.code_derive
    calls = {"n": 0}

    def derive(secret, number):
        calls["n"] += 1
        if calls["n"] == 2:  # the first attempt repeats an existing code
            return code_normalise(existing_codes[0])
        return real_derive(secret, number)

    monkeypatch.setattr(services, "code_derive", derive)
    batch, codes = claim_batch_create(brand=brand, name="Retry", points=1, quantity=3)
    assert existing_codes[0] not in codes
    assert ClaimBatch.objects.filter(name="Retry").count() == 1
    assert ClaimCode.objects.filter(batch=batch).count() == 3


@pytest.mark.parametrize(("options", "field"), [
    ({"quantity": 0}, "quantity"),
    ({"quantity": 100_001}, "quantity"),
    ({"points": 0}, "points"),
    ({"per_member_limit": 0}, "per_member_limit"),
])
def test_invalid_batches_are_refused_and_nothing_is_written(brand, options, field):
    values = {"name": "Bad", "points": 10, "quantity": 10, **options}
    with pytest.raises(ValidationFailed) as raised:
        claim_batch_create(brand=brand, **values)
    assert field in raised.value.fields
    assert not ClaimBatch.objects.exists() and not ClaimCode.objects.exists()


def test_a_batch_cannot_pay_in_another_brands_currency_or_end_before_it_starts(brand, other_brand):
    from django.utils import timezone

    now = timezone.now()
    with pytest.raises(ValidationFailed) as raised:
        claim_batch_create(brand=brand, currency=other_brand.currencies.get(), name="x", points=1, quantity=1,
                           valid_from=now, valid_until=now)
    assert set(raised.value.fields) == {"currency", "valid_until"}
    assert not ClaimBatch.objects.exists()


def test_the_default_currency_and_the_creator_are_recorded(brand):
    user = factories.staff_user(brands=[brand])
    batch, _codes = claim_batch_create(brand=brand, name="x", points=3, quantity=2, created_by=user,
                                       sku="SKU-1", campaign="Songkran")
    batch.refresh_from_db()
    assert (batch.currency.is_default, batch.created_by, batch.sku, batch.campaign) == (True, user, "SKU-1",
                                                                                       "Songkran")
