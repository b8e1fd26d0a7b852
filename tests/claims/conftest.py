import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache

from loyalty.claims.services import claim_batch_create
from tests import factories
from tests.liff.conftest import _sms_locmem, active_member, consents, portal_brand  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate limits and form outcomes live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_batch(db):
    def make(brand, **options):
        options.setdefault("name", "Coffee beans 250 g")
        options.setdefault("points", 10)
        options.setdefault("quantity", 5)
        return claim_batch_create(brand=brand, **options)

    return make


def claims_staff(*, brands, username="claims-staff", download=True):
    """A brand manager with the claims permissions (the manager group may not include this app yet)."""
    user = factories.staff_user(brands=brands, username=username)
    permissions = Permission.objects.filter(content_type__app_label="claims")
    if not download:
        user.groups.clear()  # the managers' group includes the download permission
        permissions = permissions.exclude(codename="download_claim_codes")
    user.user_permissions.add(*permissions)
    return user
