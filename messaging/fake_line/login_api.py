"""LINE Login v2.1 endpoints of the fake (authorize, token, verify, revoke, profile, certs).

On the real platform ``/oauth2/v2.1/authorize`` lives on access.line.me and the
rest on api.line.me; the fake serves both from one host. Client IDs are not
checked against registered channels: any ``client_id`` works, but it must be
consistent across authorize → token, and an ID token's ``aud`` must equal the
``client_id`` it is verified with. Client secrets are recorded, not checked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

import jwt

from .state import AUTH_CODE_TTL, ISSUER, USER_TOKEN_TTL, AuthCode, FakeLineState, UserToken
from .wire import Request, Response, Route, error, json_response, oauth_error, ok, redirect


def _client_credentials(req: Request) -> tuple[str | None, str | None]:
    """client_id/client_secret from the form, or from HTTP Basic auth."""
    form = req.form()
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = req.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except ValueError:
            return client_id, secret
        client_id, secret = client_id or user, secret or password
    return client_id, secret


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


# ---------------------------------------------------------------- authorize

def authorize(fake: FakeLineState, req: Request) -> Response:
    """Auto-consent: 302 to ``redirect_uri?code=…&state=…`` for ``fake_user`` (query
    parameter) or else the most recently added user. ``fake_deny=1`` simulates the
    user cancelling (``error=access_denied``)."""
    q = req.query
    missing = [k for k in ("response_type", "client_id", "redirect_uri", "state") if not q.get(k)]
    if missing:
        return oauth_error(400, "invalid_request", f"missing parameter(s): {', '.join(missing)}")
    if q["response_type"] != "code":
        return oauth_error(400, "unsupported_response_type", "response_type must be code")
    challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
    if challenge and method != "S256":
        return oauth_error(400, "invalid_request", "code_challenge_method must be S256")
    if q.get("fake_deny"):
        return redirect(q["redirect_uri"], {"error": "access_denied",
                                            "error_description": "The user has denied the request",
                                            "state": q["state"]})
    user_id = q.get("fake_user") or fake.last_user_id
    user = fake.known_user(user_id) if user_id else None
    if user is None:
        return oauth_error(400, "invalid_request",
                           "fake LINE: no user to log in (add a user first, or pass fake_user=<userId>)")
    code = secrets.token_urlsafe(16)
    fake.auth_codes[code] = AuthCode(
        client_id=q["client_id"], redirect_uri=q["redirect_uri"], user_id=user.user_id,
        scope=q.get("scope", ""), nonce=q.get("nonce"), code_challenge=challenge,
        code_challenge_method=method, issued_at=fake.now(),
    )
    return redirect(q["redirect_uri"], {"code": code, "state": q["state"]})


# -------------------------------------------------------------------- token

def token(fake: FakeLineState, req: Request) -> Response:
    grant_type = req.form().get("grant_type")
    if grant_type == "authorization_code":
        return _exchange_code(fake, req)
    if grant_type == "refresh_token":
        return _refresh(fake, req)
    return oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")


def _exchange_code(fake: FakeLineState, req: Request) -> Response:
    form = req.form()
    client_id, _secret = _client_credentials(req)
    grant = fake.auth_codes.get(form.get("code", ""))
    if grant is None or grant.used or fake.now() - grant.issued_at > AUTH_CODE_TTL:
        return oauth_error(400, "invalid_grant", "invalid authorization code")
    if form.get("redirect_uri") != grant.redirect_uri:
        return oauth_error(400, "invalid_grant", "redirect_uri does not match")
    if client_id != grant.client_id:
        return oauth_error(400, "invalid_client", "client_id does not match")
    if grant.code_challenge:
        verifier = form.get("code_verifier")
        if not verifier:
            return oauth_error(400, "invalid_grant", "code_verifier required")
        if pkce_s256(verifier) != grant.code_challenge:
            return oauth_error(400, "invalid_grant", "invalid code_verifier")
    grant.used = True
    access_token, refresh_token = _issue_user_token(fake, grant.user_id, grant.client_id, grant.scope)
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": USER_TOKEN_TTL,
        "refresh_token": refresh_token,
        "scope": grant.scope,
    }
    scopes = grant.scope.split()
    if "openid" in scopes:  # like LINE, an ID token only with the openid scope
        user = fake.users[grant.user_id]
        body["id_token"] = fake.mint_id_token(
            user.user_id, grant.client_id,
            name=user.display_name if "profile" in scopes else None,
            picture=user.picture_url if "profile" in scopes else None,
            email=user.email if "email" in scopes else None,
            nonce=grant.nonce,
        )
    return ok(body)


def _refresh(fake: FakeLineState, req: Request) -> Response:
    old = fake.refresh_tokens.pop(req.form().get("refresh_token", ""), None)
    info = fake.user_tokens.get(old) if old else None
    if info is None:
        return oauth_error(400, "invalid_grant", "invalid refresh token")
    info.revoked = True
    access_token, refresh_token = _issue_user_token(fake, info.user_id, info.client_id, info.scope)
    return ok({"access_token": access_token, "token_type": "Bearer", "expires_in": USER_TOKEN_TTL,
               "refresh_token": refresh_token, "scope": info.scope})


def _issue_user_token(fake: FakeLineState, user_id: str, client_id: str, scope: str) -> tuple[str, str]:
    access_token = fake.issue_access_token(user_id, client_id, scope)
    refresh_token = secrets.token_urlsafe(24)
    fake.user_tokens[access_token].refresh_token = refresh_token
    fake.refresh_tokens[refresh_token] = access_token
    return access_token, refresh_token


# ------------------------------------------------------------------- verify

ID_TOKEN_ERRORS = (
    (jwt.ExpiredSignatureError, "IdToken expired."),
    (jwt.InvalidAudienceError, "Invalid IdToken Audience."),
    (jwt.InvalidIssuerError, "Invalid IdToken Issuer."),
    (jwt.InvalidTokenError, "Invalid IdToken."),
)


def verify_id_token(fake: FakeLineState, req: Request) -> Response:
    """POST /oauth2/v2.1/verify (form ``id_token``, ``client_id``, optional ``nonce``, ``user_id``)."""
    form = req.form()
    id_token, client_id = form.get("id_token"), form.get("client_id")
    if not id_token or not client_id:
        return oauth_error(400, "invalid_request", "id_token and client_id are required")
    try:
        if jwt.get_unverified_header(id_token).get("kid") != fake.kid:
            raise jwt.InvalidSignatureError("unknown kid")
        claims = jwt.decode(
            id_token, fake.public_key(), algorithms=["ES256"], audience=client_id, issuer=ISSUER,
            # exp is checked below against the fake's clock, which tests may move
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_exp": False, "verify_iat": False},
        )
        if claims["exp"] <= fake.now():
            raise jwt.ExpiredSignatureError("expired")
    except jwt.InvalidTokenError as exc:
        description = next(text for kind, text in ID_TOKEN_ERRORS if isinstance(exc, kind))
        return oauth_error(400, "invalid_request", description)
    if form.get("nonce") and claims.get("nonce") != form["nonce"]:
        return oauth_error(400, "invalid_request", "Invalid IdToken Nonce.")
    if form.get("user_id") and claims["sub"] != form["user_id"]:
        return oauth_error(400, "invalid_request", "Invalid IdToken Subject Identifier.")
    return ok(claims)


def _live_user_token(fake: FakeLineState, token: str | None) -> UserToken | None:
    info = fake.user_tokens.get(token or "")
    if info is None or info.revoked or info.expires_at <= fake.now():
        return None
    return info


def verify_access_token(fake: FakeLineState, req: Request) -> Response:
    """GET /oauth2/v2.1/verify?access_token= for user tokens (and, like LINE, channel tokens)."""
    token = req.query.get("access_token")
    if not token:
        return oauth_error(400, "invalid_request", "access_token required")
    info = _live_user_token(fake, token)
    if info is not None:
        return ok({"scope": info.scope, "client_id": info.client_id,
                   "expires_in": int(info.expires_at - fake.now())})
    channel = fake.channels.get(token)
    if channel is not None:
        return ok({"scope": "", "client_id": channel.login_channel_id or "", "expires_in": USER_TOKEN_TTL})
    if token in fake.user_tokens:
        return oauth_error(400, "invalid_request", "access token expired")
    return oauth_error(400, "invalid_request", "invalid access token")


def revoke(fake: FakeLineState, req: Request) -> Response:
    info = fake.user_tokens.get(req.form().get("access_token", ""))
    if info is not None:
        info.revoked = True
    return Response(200, b"", "application/json")


# ------------------------------------------------------- profile and JWKS

def _bearer_user(fake: FakeLineState, req: Request):
    info = _live_user_token(fake, req.bearer())
    return None if info is None else fake.users.get(info.user_id)


def user_profile(fake: FakeLineState, req: Request) -> Response:
    """GET /v2/profile with a user access token."""
    user = _bearer_user(fake, req)
    if user is None:
        return error(401, "invalid token")
    return ok(user.profile())


def userinfo(fake: FakeLineState, req: Request) -> Response:
    user = _bearer_user(fake, req)
    if user is None:
        return oauth_error(401, "invalid_token", "invalid access token")
    data = {"sub": user.user_id, "name": user.display_name}
    if user.picture_url:
        data["picture"] = user.picture_url
    return ok(data)


def certs(fake: FakeLineState, req: Request) -> Response:
    return json_response(200, {"keys": [fake.jwk()]})


ROUTES: list[Route] = [
    Route("GET", "/oauth2/v2.1/authorize", authorize),
    Route("POST", "/oauth2/v2.1/token", token),
    Route("POST", "/oauth2/v2.1/verify", verify_id_token),
    Route("GET", "/oauth2/v2.1/verify", verify_access_token),
    Route("POST", "/oauth2/v2.1/revoke", revoke),
    Route("GET", "/oauth2/v2.1/userinfo", userinfo),
    Route("POST", "/oauth2/v2.1/userinfo", userinfo),
    Route("GET", "/oauth2/v2.1/certs", certs),
    Route("GET", "/v2/profile", user_profile),
]
