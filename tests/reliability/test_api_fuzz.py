"""Bad input for the v1 API: schemathesis generates requests from the project's own OpenAPI
schema (valid and invalid bodies, paths and queries) for every operation and sends them
through the real WSGI application with a valid API key. No answer may be a 5xx, and every
answer must be one the schema documents (status code, content type, body shape).

Random identifiers almost never name a row, so every other positive case is pointed at rows
that exist (a member, a purchase, a reward, a coupon, a fresh member-card token): success
answers are checked against the schema too, and each operation must have answered 2xx at
least once.

Bounded: a fixed seed, deterministic generation, no shrinking, ``max-examples`` per
operation (see ``FUZZ``); about 10 s on the project's 2-core machines.
"""

import collections
import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from loyalty.services.earning import LineInput, purchase_record
from loyalty.services.redemption import reward_redeem
from members.card import card_token
from tests import factories

FUZZ = {
    "seed": 20261112,
    "generation": {"max-examples": 25, "deterministic": True, "no-shrink": True, "database": "none",
                   "mode": "all"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": False}, "fuzzing": {"enabled": True},
               "stateful": {"enabled": False}},
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def openapi_document() -> dict:
    """The document ``/api/schema/`` serves, generated without a request (no database needed)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config.from_dict(FUZZ))
schema.app = application


@pytest.fixture(autouse=True)
def _connections_kept_open():
    """As in Django's test client: the application must not close the test's database
    connection at the end of a request (that would end the test transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def rows(brand, member):
    """Rows that exist in the brand the key belongs to, and the key."""
    factories.give_points(member, 5000, key="seed")
    purchase = purchase_record(brand=brand, member=member, channel="pos", order_id="FUZZ-1", total=1000,
                               lines=[LineInput(amount=1000)], purchased_at=timezone.now()).purchase
    reward = factories.RewardFactory(brand=brand, points_cost=10, stock=500)
    coupon = reward_redeem(brand=brand, member=member, reward_id=reward.pk, request_id="seed").redemption.coupon
    _key, raw = factories.api_key(brand=brand)
    return {"member": member, "purchase": purchase.pk, "reward": reward.pk, "coupon": coupon.code, "key": raw}


@pytest.fixture
def answers(request):
    """Statuses answered per operation; after all examples, each operation answered 2xx at least once."""
    seen = collections.Counter()
    yield seen
    successes = sum(count for status_code, count in seen.items() if 200 <= status_code < 300)
    assert successes, f"no 2xx answer among {dict(seen)}: the success path was never checked"


def point_at_existing_rows(case, rows) -> None:
    """Replace generated identifiers by ones that exist (JSON bodies and path parameters)."""
    parameters = case.path_parameters or {}
    if "code" in parameters:
        parameters["code"] = rows["coupon"] if case.path.startswith("/api/v1/coupons/") else rows["member"].code
    if "purchase_id" in parameters:
        parameters["purchase_id"] = rows["purchase"]
    if case.path == "/api/v1/rewards/" and case.query and "member" in case.query:
        case.query["member"] = rows["member"].code
    if not isinstance(case.body, dict) or case.media_type != "application/json":
        return
    if isinstance(case.body.get("member"), dict):
        case.body["member"] = {"code": rows["member"].code}
    if "reward" in case.body:
        case.body["reward"] = rows["reward"]
    if "branch" in case.body:
        case.body["branch"] = "MAIN"
    if "token" in case.body:
        case.body["token"] = card_token(rows["member"])
    case.body.pop("purchased_at", None)  # random date-times are mostly in the future, which is refused


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
def test_every_operation_answers_documented_non_5xx_responses(case, rows, answers):
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    if not negative and sum(answers.values()) % 2 == 0:
        point_at_existing_rows(case, rows)
    response = case.call_and_validate(headers={"Authorization": f"Api-Key {rows['key']}"}, checks=CHECKS)
    answers[response.status_code] += 1
