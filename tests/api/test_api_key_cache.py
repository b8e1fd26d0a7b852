"""Each process keeps an API key it found for ``API_KEY_CACHE_TTL`` seconds: a till's next bills
skip the key's query, a change made in this process applies at once, one made elsewhere within
the TTL, and every request gets its own copies of the key, brand and branch.

The cache only keeps keys read outside a transaction, so these tests commit (``transaction=True``).
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config import process_cache
from members.api import authentication
from members.models import ApiKey, Brand
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

REWARDS = "/api/v1/rewards/"


@pytest.fixture
def keyed(settings):
    settings.API_KEY_CACHE_TTL = 60
    brand = Brand.objects.create(name="Cache brand", slug="cache-brand")
    key, raw = factories.api_key(brand=brand, name="Till 1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return brand, key, raw, client


def key_queries(client) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(REWARDS).status_code
    return status, [q["sql"] for q in queries.captured_queries if "members_apikey" in q["sql"]]


def test_the_second_request_reads_no_key_and_writes_last_used_once(keyed):
    _brand, key, _raw, client = keyed
    status, first = key_queries(client)
    assert status == 200
    assert any(sql.startswith("SELECT") for sql in first)
    assert any(sql.startswith("UPDATE") for sql in first)  # last_used_at, once a minute
    status, second = key_queries(client)
    assert status == 200
    assert second == []  # neither the key's SELECT nor another last_used_at UPDATE
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_revocation_elsewhere_applies_within_the_ttl(keyed, settings, monkeypatch):
    settings.API_KEY_CACHE_TTL = 1
    clock = [1000.0]
    monkeypatch.setattr(process_cache.time, "monotonic", lambda: clock[0])
    _brand, key, _raw, client = keyed
    assert client.get(REWARDS).status_code == 200
    # Another process revokes: an UPDATE sends no signal to this one.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now() - timedelta(seconds=1))
    clock[0] += 0.9
    assert client.get(REWARDS).status_code == 200  # still kept here, within the second
    clock[0] += 0.2
    assert client.get(REWARDS).status_code == 401


def test_a_row_read_before_a_clear_is_not_kept(keyed, monkeypatch):
    """A request reads the key while another thread's change commits and clears the cache: what
    it read may predate the change, so it is used once but not kept."""
    _brand, key, raw, _client = keyed
    digest = ApiKey.digest(raw)
    original_first = authentication.KEY_BY_DIGEST.first

    def first_then_changed(params):
        row = original_first(params)
        authentication.keys_changed()  # the other thread's commit lands here
        return row

    monkeypatch.setattr(authentication.KEY_BY_DIGEST, "first", first_then_changed)
    assert authentication.key_by_digest(digest) is not None
    assert authentication._cache.get(digest) is None
    monkeypatch.setattr(authentication.KEY_BY_DIGEST, "first", original_first)
    assert authentication.key_by_digest(digest) is not None
    assert authentication._cache.get(digest) is not None


def test_the_admins_revoke_action_applies_at_once(keyed):
    brand, key, _raw, client = keyed
    assert client.get(REWARDS).status_code == 200
    staff = get_user_model().objects.create_superuser("cache-admin", "a@example.com", "pw-cache-admin-1")
    admin = APIClient()
    admin.force_login(staff)
    admin.post(reverse("admin:members_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert client.get(REWARDS).status_code == 401


def test_a_brand_saved_inactive_in_this_process_applies_at_once(keyed):
    brand, _key, _raw, client = keyed
    assert client.get(REWARDS).status_code == 200
    brand.is_active = False
    brand.save()
    assert client.get(REWARDS).status_code == 401


def test_each_request_gets_its_own_copies(keyed):
    brand, key, raw, _client = keyed
    first = authentication.key_by_digest(ApiKey.digest(raw))
    first.name = "changed by one request"
    first.brand.name = "changed too"
    second = authentication.key_by_digest(ApiKey.digest(raw))
    assert second is not first and second.brand is not first.brand
    assert (second.pk, second.name, second.brand.pk, second.brand.name) == (key.pk, "Till 1", brand.pk, "Cache brand")
    assert second.branch is None


def test_a_key_read_inside_a_transaction_is_not_kept(keyed):
    _brand, _key, raw, _client = keyed
    digest = ApiKey.digest(raw)
    with transaction.atomic():
        assert authentication.key_by_digest(digest) is not None
    with CaptureQueriesContext(connection) as queries:
        assert authentication.key_by_digest(digest) is not None  # read again, and now kept
        assert authentication.key_by_digest(digest) is not None
    assert len(queries.captured_queries) == 1


def test_ttl_zero_reads_every_time(keyed, settings):
    settings.API_KEY_CACHE_TTL = 0
    _brand, _key, raw, _client = keyed
    with CaptureQueriesContext(connection) as queries:
        authentication.key_by_digest(ApiKey.digest(raw))
        authentication.key_by_digest(ApiKey.digest(raw))
    assert len(queries.captured_queries) == 2


def test_an_unknown_key_is_never_kept(keyed):
    with CaptureQueriesContext(connection) as queries:
        assert authentication.key_by_digest("0" * 64) is None
        assert authentication.key_by_digest("0" * 64) is None
    assert len(queries.captured_queries) == 2
