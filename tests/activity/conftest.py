import pytest

from loyalty.activity.models import ActivityRule
from tests.liff.conftest import active_member, consents, portal_brand  # noqa: F401 - portal fixtures


@pytest.fixture
def rules(brand):
    """Every activity switched on for ``brand``."""
    return {activity: ActivityRule.objects.create(brand=brand, activity=activity, points=points, period=period)
            for activity, points, period in (("registration", 50, "once"), ("profile_complete", 30, "once"),
                                             ("birthday", 100, "yearly"), ("check_in", 5, "daily"),
                                             ("survey", 0, "once"))}
