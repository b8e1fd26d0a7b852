"""Suite-wide setup: PostgreSQL only, fast password hashing, shared fixtures."""

import os

import pytest

from tests import factories

# The browser fixtures (one Chromium per session, outside requests blocked) and the real Celery
# worker on Redis, for every test folder.
pytest_plugins = ["tests.browser_support", "tests.celery_support"]


def pytest_configure(config):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.exit(
            "The test suite runs on PostgreSQL only: run `make test`, or set DATABASE_URL=postgres://…",
            returncode=2,
        )


@pytest.fixture(scope="session")
def fake_line():
    """The project's fake LINE server, on loopback, for the whole session."""
    from messaging.fake_line import FakeLineServer

    server = FakeLineServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fast_settings(settings, fake_line):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LANGUAGE_CODE = "en"
    # No test ever reaches LINE: every LINE host is the fake, reset for each test.
    settings.LINE_API_BASE = fake_line.base_url
    settings.LINE_LOGIN_API_BASE = fake_line.base_url
    settings.LINE_ACCESS_BASE = fake_line.base_url
    from messaging.allauth_hosts import point_allauth_at_configured_hosts

    point_allauth_at_configured_hosts()
    fake_line.reset()


@pytest.fixture
def brand(db):
    return factories.brand_with_program()


@pytest.fixture
def other_brand(db):
    return factories.brand_with_program(slug="other", name="Other brand")


@pytest.fixture
def currency(brand):
    return brand.currencies.get(is_default=True)


@pytest.fixture
def member(brand):
    return factories.MemberFactory(brand=brand)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def pos_client(brand):
    """An API client authenticated with a brand-wide key for ``brand``."""
    from rest_framework.test import APIClient

    client = APIClient()
    _key, raw = factories.api_key(brand=brand)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture(autouse=True)
def _earn_config_cache_per_test():
    """Each test starts without cached earn configuration (ids of rolled-back rows can come back)."""
    from loyalty.services import earn_config

    earn_config.clear()
    yield
    earn_config.clear()


@pytest.fixture(autouse=True)
def _api_key_cache_per_test():
    """Each test starts without kept API keys (a rolled-back brand's key must not come back)."""
    from members.api import authentication

    authentication.clear()
    yield
    authentication.clear()
