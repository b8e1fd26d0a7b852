"""The fake LINE server, exercised with the real line-bot-sdk v3 and plain HTTP.

No database: these tests only talk to the fake over 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import uuid4

import jwt
import pytest
import requests
import urllib3
from cryptography.hazmat.primitives.asymmetric import ec
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    BroadcastRequest,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    NarrowcastRequest,
    PostbackAction,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuBulkLinkRequest,
    RichMenuRequest,
    RichMenuSize,
    ShowLoadingAnimationRequest,
    TextMessage,
)
from pydantic.v1 import ValidationError

from messaging.fake_line import FakeLineServer

TOKEN = "channel-token-1"
LOGIN_CHANNEL = "1660000001"
ALICE = "U" + "a" * 32
BOB = "U" + "b" * 32
BLOCKER = "U" + "c" * 32
NOBODY = "U" + "f" * 32
PUSH = "/v2/bot/message/push"
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def server():
    fake = FakeLineServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server):
    server.reset()
    server.add_channel(TOKEN, login_channel_id=LOGIN_CHANNEL, channel_secret="secret")
    server.add_user(BLOCKER, "Blocker", blocked=True)
    server.add_user(BOB, "Bob")
    server.add_user(ALICE, "Alice", picture_url="https://example.com/a.png", email="alice@example.com")
    return server


def sdk(fake, token=TOKEN):
    return ApiClient(Configuration(host=fake.base_url, access_token=token))


@pytest.fixture
def client(fake):
    with sdk(fake) as api_client:
        yield api_client


@pytest.fixture
def api(client):
    return MessagingApi(client)


def http(fake, method, path, body=None, headers=None, form=None):
    """(status, headers, parsed JSON body) of a raw request; no exception on 4xx/5xx."""
    data, hdrs = None, dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if form is not None:
        data = urlencode(form).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    req = urllib.request.Request(fake.base_url + path, data=data, headers=hdrs, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - a local fake
            status, resp_headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        status, resp_headers, raw = exc.code, exc.headers, exc.read()
    return status, resp_headers, json.loads(raw) if raw else None


def push(api, to=ALICE, text="hello", key=None, **kwargs):
    return api.push_message_with_http_info(
        PushMessageRequest(to=to, messages=[TextMessage(text=text)]), x_line_retry_key=key, **kwargs
    )


def png(width, height):
    """A real (all-black, greyscale) PNG of the given size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# ------------------------------------------------------ push and retry keys

def test_push_delivers_and_same_retry_key_is_409_with_original_receipt(fake, api):
    key = str(uuid4())
    first = push(api, key=key)
    assert first.status_code == 200
    sent = first.data.sent_messages
    assert len(sent) == 1 and sent[0].id and sent[0].quote_token

    with pytest.raises(ApiException) as exc_info:
        push(api, key=key)
    exc = exc_info.value
    assert exc.status == 409
    body = json.loads(exc.body)
    assert body["message"] == "The retry key is already accepted"
    assert body["sentMessages"] == [{"id": sent[0].id, "quoteToken": sent[0].quote_token}]
    assert exc.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert fake.inbox(ALICE) == [{"type": "text", "text": "hello"}]


def test_5xx_fault_then_retry_with_same_key_delivers_once(fake, api):
    fake.add_fault(PUSH, status=500)
    key = str(uuid4())
    with pytest.raises(ApiException) as exc_info:
        push(api, key=key)
    assert exc_info.value.status == 500
    assert fake.inbox(ALICE) == []

    assert push(api, key=key).status_code == 200
    assert [m["text"] for m in fake.inbox(ALICE)] == ["hello"]
    assert [r["status"] for r in fake.requests(PUSH)] == [500, 200]
    assert fake.requests(PUSH)[0]["headers"]["x-line-retry-key"] == key


def test_accept_then_drop_then_retry_gets_409_and_one_delivery(fake, api):
    fake.add_fault(PUSH, mode="accept_then_drop")
    key = str(uuid4())
    with pytest.raises(urllib3.exceptions.ProtocolError):
        push(api, key=key)
    assert len(fake.inbox(ALICE)) == 1  # committed although the client heard nothing
    assert fake.requests(PUSH)[0]["dropped"] is True

    with pytest.raises(ApiException) as exc_info:
        push(api, key=key)
    assert exc_info.value.status == 409
    assert len(fake.inbox(ALICE)) == 1


def test_concurrent_attempts_with_one_retry_key_send_once(fake):
    key = str(uuid4())

    def attempt(_):
        with sdk(fake) as client:
            try:
                return push(MessagingApi(client), key=key).status_code
            except ApiException as exc:
                return exc.status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [200] + [409] * 7
    assert len(fake.inbox(ALICE)) == 1


def test_client_timeout_on_delay_then_retry_gets_409(fake, api):
    fake.add_fault(PUSH, mode="delay", delay=0.5)
    key = str(uuid4())
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        push(api, key=key, _request_timeout=0.1)
    deadline = time.monotonic() + 5
    while not fake.inbox(ALICE) and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(ApiException) as exc_info:
        push(api, key=key)
    assert exc_info.value.status == 409
    assert len(fake.inbox(ALICE)) == 1


def test_malformed_retry_key_and_retry_key_on_reply_are_400(fake, api):
    with pytest.raises(ApiException) as exc_info:
        push(api, key="not-a-uuid")
    assert exc_info.value.status == 400

    reply_token = fake.issue_reply_token(ALICE)
    with pytest.raises(ApiException) as exc_info:
        api.reply_message(ReplyMessageRequest(reply_token=reply_token, messages=[TextMessage(text="x")]),
                          _headers={"X-Line-Retry-Key": str(uuid4())})
    assert exc_info.value.status == 400
    assert fake.inbox(ALICE) == []


def test_push_to_unknown_user_is_400_and_blocked_user_is_200_with_nothing_delivered(fake, api):
    with pytest.raises(ApiException) as exc_info:
        push(api, to=NOBODY)
    assert exc_info.value.status == 400
    assert json.loads(exc_info.value.body)["message"] == "Failed to send messages"

    response = push(api, to=BLOCKER, key=str(uuid4()))
    assert response.status_code == 200 and response.data.sent_messages
    assert fake.inbox(BLOCKER) == []


def test_a_failed_send_does_not_consume_the_retry_key(fake, api):
    key = str(uuid4())
    with pytest.raises(ApiException):
        push(api, to=NOBODY, key=key)
    assert push(api, to=ALICE, key=key).status_code == 200


def test_quota_limit_gives_429(fake, api):
    fake.set_quota(limit=1)
    push(api)
    with pytest.raises(ApiException) as exc_info:
        push(api)
    assert exc_info.value.status == 429
    assert api.get_message_quota().value == 1
    assert api.get_message_quota_consumption().total_usage == 1


# ------------------------------------------------- multicast, narrowcast, broadcast

def test_multicast_over_500_is_refused_by_the_sdk_and_by_the_server(fake, api):
    with pytest.raises(ValidationError):
        MulticastRequest(to=[ALICE] * 501, messages=[TextMessage(text="x")])

    status, _, body = http(fake, "POST", "/v2/bot/message/multicast",
                           {"to": [ALICE] * 501, "messages": [{"type": "text", "text": "x"}]},
                           {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400
    assert body["details"][0]["property"] == "to"
    assert fake.inbox(ALICE) == []


def test_multicast_delivers_to_known_friends_and_honours_the_retry_key(fake, api):
    request = MulticastRequest(to=[ALICE, BOB, BLOCKER, NOBODY], messages=[TextMessage(text="promo")])
    key = str(uuid4())
    api.multicast(request, x_line_retry_key=key)
    with pytest.raises(ApiException) as exc_info:
        api.multicast(request, x_line_retry_key=key)
    assert exc_info.value.status == 409
    assert fake.inbox(ALICE) == fake.inbox(BOB) == [{"type": "text", "text": "promo"}]
    assert fake.inbox(BLOCKER) == fake.inbox(NOBODY) == []


def test_narrowcast_is_202_with_trackable_progress_and_broadcast_reaches_friends(fake, api):
    response = api.narrowcast_with_http_info(NarrowcastRequest(messages=[TextMessage(text="n")]),
                                             x_line_retry_key=str(uuid4()))
    assert response.status_code == 202
    progress = api.get_narrowcast_progress(response.headers["x-line-request-id"])
    assert progress.phase == "succeeded" and progress.success_count == 2

    api.broadcast(BroadcastRequest(messages=[TextMessage(text="b")]), x_line_retry_key=str(uuid4()))
    assert [m["text"] for m in fake.inbox(ALICE)] == ["n", "b"]
    assert [m["text"] for m in fake.inbox(BOB)] == ["n", "b"]
    assert fake.inbox(BLOCKER) == []


# --------------------------------------------------------------------- reply

def test_reply_needs_an_issued_unused_unexpired_token(fake, api, monkeypatch):
    def reply(token):
        return api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="hi")]))

    for token in ("0" * 32, "never-issued"):
        with pytest.raises(ApiException) as exc_info:
            reply(token)
        assert exc_info.value.status == 400
        assert json.loads(exc_info.value.body)["message"] == "Invalid reply token"

    token = fake.issue_reply_token(ALICE)
    assert reply(token).sent_messages[0].id
    with pytest.raises(ApiException) as exc_info:  # already used
        reply(token)
    assert exc_info.value.status == 400

    stale = fake.issue_reply_token(ALICE)
    issued = time.time()
    monkeypatch.setattr(fake, "clock", lambda: issued + 61)  # a worker that ran a minute late
    with pytest.raises(ApiException) as exc_info:
        reply(stale)
    assert exc_info.value.status == 400
    assert fake.inbox(ALICE) == [{"type": "text", "text": "hi"}]


# ----------------------------------------------------------- auth and misc

def test_unknown_or_missing_bearer_token_is_401(fake):
    with sdk(fake, token="who-is-this") as bad, pytest.raises(ApiException) as exc_info:
        push(MessagingApi(bad))
    assert exc_info.value.status == 401
    assert "message" in json.loads(exc_info.value.body)
    status, headers, _ = http(fake, "GET", "/v2/bot/message/quota")
    assert status == 401 and headers["x-line-request-id"]
    assert fake.inbox(ALICE) == []


def test_re_adding_a_user_updates_only_the_fields_given(fake, api):
    fake.add_user(ALICE)
    assert api.get_profile(ALICE).display_name == "Alice"
    fake.add_user(ALICE, blocked=True)
    push(api)
    assert fake.inbox(ALICE) == []
    assert http(fake, "POST", "/__fake__/users", {"userId": ALICE, "blocked": False})[0] == 200
    push(api)
    assert len(fake.inbox(ALICE)) == 1
    assert api.get_profile(ALICE).picture_url == "https://example.com/a.png"


def test_accept_any_token_auto_creates_users():
    with FakeLineServer(accept_any_token=True) as anything, sdk(anything, token="whatever") as client:
        push(MessagingApi(client), to=NOBODY)
        assert anything.inbox(NOBODY) == [{"type": "text", "text": "hello"}]


def test_profile_loading_and_request_log(fake, api):
    profile = api.get_profile(ALICE)
    assert (profile.user_id, profile.display_name) == (ALICE, "Alice")
    for user_id in (NOBODY, BLOCKER):
        with pytest.raises(ApiException) as exc_info:
            api.get_profile(user_id)
        assert exc_info.value.status == 404
    response = api.show_loading_animation_with_http_info(ShowLoadingAnimationRequest(chat_id=ALICE,
                                                                                     loading_seconds=5))
    assert response.status_code == 202

    fake.inbox(ALICE)  # Python helpers and control-plane calls are not logged
    http(fake, "GET", f"/__fake__/inbox/{ALICE}")
    log = fake.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", f"/v2/bot/profile/{ALICE}", 200),
        ("GET", f"/v2/bot/profile/{NOBODY}", 404),
        ("GET", f"/v2/bot/profile/{BLOCKER}", 404),
        ("POST", "/v2/bot/chat/loading/start", 202),
    ]
    assert log[-1]["body"] == {"chatId": ALICE, "loadingSeconds": 5}
    assert log[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert len(fake.requests("/v2/bot/profile/*")) == 3


# ---------------------------------------------------------------- rich menus

def rich_menu_request(height=843):
    return RichMenuRequest(
        size=RichMenuSize(width=2500, height=height), selected=False, name="gold tier", chat_bar_text="Menu",
        areas=[RichMenuArea(bounds=RichMenuBounds(x=0, y=0, width=2500, height=height),
                            action=PostbackAction(data="action=points"))],
    )


def test_rich_menu_create_upload_image_and_link_to_user(fake, api, client):
    blob = MessagingApiBlob(client)
    menu_id = api.create_rich_menu(rich_menu_request()).rich_menu_id
    assert menu_id.startswith("richmenu-")

    with pytest.raises(ApiException) as exc_info:  # no image yet: LINE will not show it
        api.link_rich_menu_id_to_user(ALICE, menu_id)
    assert exc_info.value.status == 400

    image = png(2500, 843)
    blob.set_rich_menu_image(menu_id, image, _headers={"Content-Type": "image/png"})
    api.link_rich_menu_id_to_user(ALICE, menu_id)

    assert api.get_rich_menu_id_of_user(ALICE).rich_menu_id == menu_id
    assert fake.user_rich_menu(ALICE) == menu_id
    assert fake.user_rich_menu(BOB) is None
    snapshot = fake.rich_menus()
    assert snapshot["links"] == {ALICE: menu_id}
    assert snapshot["menus"][menu_id]["hasImage"] is True
    assert snapshot["menus"][menu_id]["name"] == "gold tier"
    assert [m.rich_menu_id for m in api.get_rich_menu_list().richmenus] == [menu_id]
    assert blob.get_rich_menu_image_with_http_info(menu_id).raw_data == image

    api.unlink_rich_menu_id_from_user(ALICE)
    assert fake.user_rich_menu(ALICE) is None


def test_rich_menu_image_rules(fake, api, client):
    blob = MessagingApiBlob(client)
    menu_id = api.create_rich_menu(rich_menu_request()).rich_menu_id
    cases = [
        (b"GIF89a...", "image/gif", 415),
        (b"\xff" * (1024 * 1024 + 1), "image/jpeg", 400),  # over 1 MB
        (png(400, 400), "image/png", 400),  # real PNG outside the documented dimensions
    ]
    for body, content_type, status in cases:
        with pytest.raises(ApiException) as exc_info:
            blob.set_rich_menu_image(menu_id, body, _headers={"Content-Type": content_type})
        assert exc_info.value.status == status, content_type
    assert fake.rich_menus()["menus"][menu_id]["hasImage"] is False


def test_rich_menu_default_bulk_link_and_delete(fake, api, client):
    menu_id = api.create_rich_menu(rich_menu_request()).rich_menu_id
    MessagingApiBlob(client).set_rich_menu_image(menu_id, png(2500, 843), _headers={"Content-Type": "image/png"})
    api.set_default_rich_menu(menu_id)
    api.link_rich_menu_id_to_users(RichMenuBulkLinkRequest(rich_menu_id=menu_id, user_ids=[ALICE, BOB]))
    assert fake.rich_menus()["default"] == menu_id
    assert fake.rich_menus()["links"] == {ALICE: menu_id, BOB: menu_id}

    api.delete_rich_menu(menu_id)
    assert fake.rich_menus() == {"menus": {}, "default": None, "links": {}, "aliases": {}}
    with pytest.raises(ApiException) as exc_info:
        api.get_rich_menu(menu_id)
    assert exc_info.value.status == 404


# ------------------------------------------------------------- ID tokens

def verify_id_token(fake, id_token, client_id=LOGIN_CHANNEL):
    return http(fake, "POST", "/oauth2/v2.1/verify", form={"id_token": id_token, "client_id": client_id})


def test_id_token_verification(fake):
    token = fake.mint_id_token(ALICE, LOGIN_CHANNEL, name="Alice", nonce="n-1")
    assert jwt.get_unverified_header(token)["kid"] == fake.kid
    status, _, claims = verify_id_token(fake, token)
    assert status == 200
    assert claims["iss"] == "https://access.line.me"
    assert (claims["sub"], claims["aud"], claims["name"], claims["nonce"]) == (ALICE, LOGIN_CHANNEL, "Alice", "n-1")
    assert claims["exp"] - claims["iat"] == 3600

    expired = fake.mint_id_token(ALICE, LOGIN_CHANNEL, iat=time.time() - 7200)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:20]}{'A' if signature[20] != 'A' else 'B'}{signature[21:]}"
    forged = jwt.encode({"iss": "https://access.line.me", "sub": ALICE, "aud": LOGIN_CHANNEL,
                         "exp": int(time.time()) + 600, "iat": int(time.time())},
                        ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": fake.kid})
    cases = [
        (expired, LOGIN_CHANNEL, "IdToken expired."),
        (token, "1669999999", "Invalid IdToken Audience."),
        (tampered, LOGIN_CHANNEL, "Invalid IdToken."),
        (forged, LOGIN_CHANNEL, "Invalid IdToken."),
        ("not.a.jwt", LOGIN_CHANNEL, "Invalid IdToken."),
    ]
    for id_token, client_id, description in cases:
        status, _, body = verify_id_token(fake, id_token, client_id)
        assert (status, body) == (400, {"error": "invalid_request", "error_description": description})


def test_id_token_verifies_locally_against_the_jwks(fake):
    token = fake.mint_id_token(BOB, LOGIN_CHANNEL)
    signing_key = jwt.PyJWKClient(fake.base_url + "/oauth2/v2.1/certs").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["ES256"], audience=LOGIN_CHANNEL,
                        issuer="https://access.line.me")
    assert claims["sub"] == BOB


# ---------------------------------------------------------- LINE Login flow

def test_authorization_code_flow_with_pkce(fake):
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    callback = "http://testserver/accounts/line/login/callback/"
    authorize = requests.get(fake.base_url + "/oauth2/v2.1/authorize", allow_redirects=False, timeout=5, params={
        "response_type": "code", "client_id": LOGIN_CHANNEL, "redirect_uri": callback, "state": "st-1",
        "scope": "profile openid email", "nonce": "nonce-1",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    assert authorize.status_code == 302
    location = urlsplit(authorize.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == callback
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["state"] == "st-1"
    assert fake.requests("/oauth2/v2.1/authorize")[0]["query"]["code_challenge"] == challenge

    token_form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": callback,
                  "client_id": LOGIN_CHANNEL, "client_secret": "login-secret"}
    status, _, body = http(fake, "POST", "/oauth2/v2.1/token", form={**token_form, "code_verifier": "w" * 64})
    assert (status, body["error"]) == (400, "invalid_grant")

    status, _, tokens = http(fake, "POST", "/oauth2/v2.1/token", form={**token_form, "code_verifier": verifier})
    assert status == 200
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["refresh_token"]
    assert set(tokens["scope"].split()) == {"profile", "openid", "email"}

    status, _, claims = verify_id_token(fake, tokens["id_token"])  # allauth's "email" branch
    assert status == 200
    assert (claims["sub"], claims["aud"], claims["nonce"]) == (ALICE, LOGIN_CHANNEL, "nonce-1")
    assert (claims["name"], claims["email"]) == ("Alice", "alice@example.com")

    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    status, _, profile = http(fake, "GET", "/v2/profile", headers=bearer)  # allauth's other branch
    assert (status, profile["userId"], profile["displayName"]) == (200, ALICE, "Alice")
    status, _, info = http(fake, "GET", "/oauth2/v2.1/verify?" + urlencode({"access_token": tokens["access_token"]}))
    assert (status, info["client_id"]) == (200, LOGIN_CHANNEL) and info["expires_in"] > 0

    status, _, body = http(fake, "POST", "/oauth2/v2.1/token", form={**token_form, "code_verifier": verifier})
    assert (status, body["error"]) == (400, "invalid_grant")  # codes are single use

    http(fake, "POST", "/oauth2/v2.1/revoke", form={"access_token": tokens["access_token"],
                                                    "client_id": LOGIN_CHANNEL})
    assert http(fake, "GET", "/v2/profile", headers=bearer)[0] == 401
    status, _, _ = http(fake, "GET", "/oauth2/v2.1/verify?" + urlencode({"access_token": tokens["access_token"]}))
    assert status == 400


def test_authorize_can_pick_the_user_or_deny(fake):
    base = {"response_type": "code", "client_id": LOGIN_CHANNEL, "redirect_uri": "http://app/cb", "state": "s",
            "scope": "profile"}
    picked = requests.get(fake.base_url + "/oauth2/v2.1/authorize", allow_redirects=False, timeout=5,
                          params={**base, "fake_user": BOB})
    code = parse_qs(urlsplit(picked.headers["Location"]).query)["code"][0]
    _, _, tokens = http(fake, "POST", "/oauth2/v2.1/token", form={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://app/cb",
        "client_id": LOGIN_CHANNEL, "client_secret": "x"})
    assert "id_token" not in tokens  # no openid scope
    profile = http(fake, "GET", "/v2/profile", headers={"Authorization": f"Bearer {tokens['access_token']}"})[2]
    assert profile["userId"] == BOB

    denied = requests.get(fake.base_url + "/oauth2/v2.1/authorize", allow_redirects=False, timeout=5,
                          params={**base, "fake_deny": "1"})
    assert parse_qs(urlsplit(denied.headers["Location"]).query)["error"] == ["access_denied"]


# -------------------------------------------------- control plane and CLI

def test_control_plane_over_http(fake):
    assert http(fake, "POST", "/__fake__/users", {"userId": NOBODY, "displayName": "New"})[0] == 200
    reply_token = http(fake, "POST", "/__fake__/reply_token", {"userId": NOBODY})[2]["replyToken"]
    status, headers, _ = http(fake, "POST", "/v2/bot/message/reply",
                              {"replyToken": reply_token, "messages": [{"type": "text", "text": "hey"}]},
                              {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and re.fullmatch(r"[0-9a-f-]{36}", headers["x-line-request-id"])
    assert http(fake, "GET", f"/__fake__/inbox/{NOBODY}")[2] == [{"type": "text", "text": "hey"}]

    id_token = http(fake, "POST", "/__fake__/id_token", {"sub": NOBODY, "aud": LOGIN_CHANNEL, "ttl": 60})[2]
    assert verify_id_token(fake, id_token["id_token"])[2]["sub"] == NOBODY

    http(fake, "POST", "/__fake__/faults", {"path": "/v2/bot/*", "status": 503, "times": 2})
    for _ in range(2):
        assert http(fake, "GET", "/v2/bot/message/quota", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 503
    assert http(fake, "GET", "/v2/bot/message/quota", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200

    logged = http(fake, "GET", "/__fake__/requests?path=/v2/bot/message/quota")[2]
    assert [r["status"] for r in logged] == [503, 503, 200]
    assert http(fake, "GET", "/__fake__/rich_menus")[2]["menus"] == {}

    assert http(fake, "POST", "/__fake__/reset")[0] == 200
    assert fake.requests() == [] and fake.inbox(NOBODY) == [] and fake.users == {}


def test_standalone_module_serves_until_killed():
    proc = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "messaging.fake_line", "--port", "0", "--channel", "cli-token", "--user", ALICE],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        with ApiClient(Configuration(host=base_url, access_token="cli-token")) as client:
            push(MessagingApi(client))
        with urllib.request.urlopen(f"{base_url}/__fake__/inbox/{ALICE}", timeout=5) as resp:  # noqa: S310
            assert json.loads(resp.read()) == [{"type": "text", "text": "hello"}]
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
        proc.stdout.close()
