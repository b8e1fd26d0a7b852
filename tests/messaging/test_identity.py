"""Who a member is: only what LINE verified (LIFF ID token, LINE Login), never what the browser says."""

import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from members.models import Member
from tests.messaging.conftest import LOGIN_CHANNEL

USER = "U" + "c" * 32


def post_session(client, brand, payload):
    return client.post(f"/liff/{brand.slug}/session/", data=json.dumps(payload), content_type="application/json")


def session_user(client):
    return get_user_model().objects.filter(pk=client.session.get("_auth_user_id")).first()


def test_a_valid_id_token_opens_a_session_for_that_line_user(client, line_brand, fake_line):
    token = fake_line.mint_id_token(USER, LOGIN_CHANNEL, name="Nok")
    response = post_session(client, line_brand, {"id_token": token})
    assert response.status_code == 200, response.content
    member = Member.objects.get(brand=line_brand, line_user_id=USER)
    assert response.json() == {"member_code": member.code, "status": "pending", "registered": False,
                               "display_name": "Nok"}
    assert session_user(client) == member.user
    assert SocialAccount.objects.get(provider="line", uid=USER).user == member.user
    assert fake_line.requests("/oauth2/v2.1/verify")[0]["body"]["client_id"] == LOGIN_CHANNEL


def test_the_follow_member_is_the_one_the_liff_login_finds(client, line_brand, fake_line):
    followed = Member.objects.create(brand=line_brand, line_user_id=USER, line_reachable=True)
    post_session(client, line_brand, {"id_token": fake_line.mint_id_token(USER, LOGIN_CHANNEL)})
    followed.refresh_from_db()
    assert followed.user is not None and session_user(client) == followed.user
    assert Member.objects.filter(line_user_id=USER).count() == 1


def test_a_user_id_sent_by_the_browser_is_ignored(client, line_brand, fake_line):
    victim = Member.objects.create(brand=line_brand, line_user_id="U" + "9" * 32)
    token = fake_line.mint_id_token(USER, LOGIN_CHANNEL)
    response = post_session(client, line_brand, {"id_token": token, "user_id": victim.line_user_id,
                                                 "line_user_id": victim.line_user_id})
    assert response.status_code == 200
    assert session_user(client) == Member.objects.get(line_user_id=USER).user
    victim.refresh_from_db()
    assert victim.user is None


@pytest.mark.parametrize("case", ["expired", "wrong_audience", "forged", "garbage"])
def test_bad_id_tokens_get_401_and_no_session(client, line_brand, fake_line, case):
    if case == "expired":
        token = fake_line.mint_id_token(USER, LOGIN_CHANNEL, ttl=60, iat=int(time.time()) - 3600)
    elif case == "wrong_audience":
        token = fake_line.mint_id_token(USER, "9999999999")
    elif case == "forged":
        header, payload, _signature = fake_line.mint_id_token(USER, LOGIN_CHANNEL).split(".")
        other = fake_line.mint_id_token("U" + "d" * 32, LOGIN_CHANNEL).split(".")[2]
        token = f"{header}.{payload}.{other}"
    else:
        token = "not-a-jwt"
    response = post_session(client, line_brand, {"id_token": token})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_id_token"
    assert "_auth_user_id" not in client.session
    assert not Member.objects.filter(line_user_id=USER).exists()


def test_missing_token_is_400(client, line_brand):
    response = post_session(client, line_brand, {})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


@pytest.fixture
def line_login_app(settings, line_brand):
    settings.SOCIALACCOUNT_PROVIDERS = {"line": {
        "SCOPE": ["profile", "openid"], "OAUTH_PKCE_ENABLED": True,
        "APP": {"client_id": LOGIN_CHANNEL, "secret": "login-channel-secret"},
    }}
    settings.LINE_LOGIN_BRAND = line_brand.slug
    return line_brand


def web_login(client, fake_line, user_id):
    """allauth's LINE login against the fake: POST → authorize (fake) → callback."""
    fake_line.add_user(user_id, display_name="Web user")
    start = client.post("/accounts/line/login/")
    assert start.status_code == 302
    authorize = start["Location"]
    assert authorize.startswith(fake_line.base_url + "/oauth2/v2.1/authorize")
    assert "code_challenge" in parse_qs(urlparse(authorize).query)
    redirect = requests.get(authorize, params={"fake_user": user_id}, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    callback = urlparse(redirect.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def test_web_line_login_creates_the_user_and_member_through_allauth(client, fake_line, line_login_app):
    response = web_login(client, fake_line, USER)
    assert response.status_code == 302, response.content[:500]
    account = SocialAccount.objects.get(provider="line", uid=USER)
    member = Member.objects.get(brand=line_login_app, line_user_id=USER)
    assert member.user == account.user == session_user(client)
    token_calls = fake_line.requests("/oauth2/v2.1/token")
    assert token_calls and "code_verifier" in token_calls[0]["body"]


def test_liff_then_web_login_end_at_the_same_user_and_member(client, fake_line, line_login_app):
    post_session(client, line_login_app, {"id_token": fake_line.mint_id_token(USER, LOGIN_CHANNEL)})
    liff_user = session_user(client)
    client.logout()
    response = web_login(client, fake_line, USER)
    assert response.status_code == 302
    assert session_user(client) == liff_user
    assert Member.objects.filter(line_user_id=USER).count() == 1
    assert get_user_model().objects.count() == 1
