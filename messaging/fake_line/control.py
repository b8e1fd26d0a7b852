"""The fake's control plane under ``/__fake__/``: the HTTP twin of the Python helpers.

Bodies are JSON; keys may be camelCase (``userId``) or snake_case (``user_id``).
These calls are never recorded in the request log and never hit by faults.
"""

from __future__ import annotations

from typing import Any

from .state import FAULT_MODES, FakeLineState
from .wire import Reject, Request, Response, Route, json_response, ok


def _pick(data: dict, *names: str, default: Any = None) -> Any:
    for name in names:
        if name in data:
            return data[name]
    return default


def _body(req: Request) -> dict:
    return req.body if isinstance(req.body, dict) else {}


def _required(data: dict, *names: str) -> Any:
    value = _pick(data, *names)
    if value in (None, ""):
        raise Reject(json_response(400, {"message": f"{names[0]} is required"}))
    return value


def reset(fake: FakeLineState, req: Request) -> Response:
    fake.reset()
    return ok()


def add_channels(fake: FakeLineState, req: Request) -> Response:
    """``{accessToken, loginChannelId?, channelSecret?}`` or a list of them."""
    items = req.body if isinstance(req.body, list) else [_body(req)]
    for item in items:
        fake.add_channel(
            _required(item, "accessToken", "access_token"),
            login_channel_id=_pick(item, "loginChannelId", "login_channel_id"),
            channel_secret=_pick(item, "channelSecret", "channel_secret"),
        )
    return ok()


def add_users(fake: FakeLineState, req: Request) -> Response:
    """``{userId, displayName?, pictureUrl?, blocked?, statusMessage?, email?, language?}`` or a list.

    Like :meth:`FakeLineState.add_user`, re-adding a user updates only the fields given."""
    items = req.body if isinstance(req.body, list) else [_body(req)]
    for item in items:
        fake.add_user(
            _required(item, "userId", "user_id"),
            display_name=_pick(item, "displayName", "display_name"),
            picture_url=_pick(item, "pictureUrl", "picture_url"),
            blocked=_pick(item, "blocked"),
            status_message=_pick(item, "statusMessage", "status_message"),
            email=_pick(item, "email"),
            language=_pick(item, "language"),
        )
    return ok()


def reply_token(fake: FakeLineState, req: Request) -> Response:
    return ok({"replyToken": fake.issue_reply_token(_required(_body(req), "userId", "user_id"))})


def id_token(fake: FakeLineState, req: Request) -> Response:
    data = _body(req)
    token = fake.mint_id_token(
        _required(data, "sub"), _required(data, "aud"),
        ttl=_pick(data, "ttl", default=3600),
        name=_pick(data, "name"), picture=_pick(data, "picture"), nonce=_pick(data, "nonce"),
        iat=_pick(data, "iat"), email=_pick(data, "email"),
    )
    return ok({"id_token": token})


def access_token(fake: FakeLineState, req: Request) -> Response:
    """``{userId, clientId, scope?, ttl?}`` → ``{access_token}`` (a LIFF/LINE Login user token)."""
    data = _body(req)
    kwargs = {"scope": _pick(data, "scope")} if _pick(data, "scope") is not None else {}
    if _pick(data, "ttl") is not None:
        kwargs["ttl"] = float(_pick(data, "ttl"))
    token = fake.issue_access_token(_required(data, "userId", "user_id"),
                                    _required(data, "clientId", "client_id"), **kwargs)
    return ok({"access_token": token})


def add_fault(fake: FakeLineState, req: Request) -> Response:
    """``{path, status?, times?, mode?, delay?}``."""
    data = _body(req)
    mode = _pick(data, "mode", default="status")
    if mode not in FAULT_MODES:
        return json_response(400, {"message": f"mode must be one of {', '.join(FAULT_MODES)}"})
    fake.add_fault(_required(data, "path"), status=int(_pick(data, "status", default=500)),
                   times=_pick(data, "times", default=1), mode=mode,
                   delay=float(_pick(data, "delay", default=0.0)))
    return ok()


def clear_faults(fake: FakeLineState, req: Request) -> Response:
    fake.clear_faults()
    return ok()


def quota(fake: FakeLineState, req: Request) -> Response:
    """``{limit: int|null, usage?: int}``."""
    data = _body(req)
    fake.set_quota(_pick(data, "limit", "value"), _pick(data, "usage", "totalUsage"))
    return ok()


def rate_limits(fake: FakeLineState, req: Request) -> Response:
    """``{path, perSecond: float|null, burst?}``: limit a path (null removes the limit)."""
    data = _body(req)
    per_second = _pick(data, "perSecond", "per_second")
    burst = _pick(data, "burst")
    fake.set_rate_limit(_required(data, "path"), None if per_second is None else float(per_second),
                        None if burst is None else float(burst))
    return ok()


def stats(fake: FakeLineState, req: Request) -> Response:
    return json_response(200, fake.stats())


def requests_log(fake: FakeLineState, req: Request) -> Response:
    return json_response(200, fake.requests(req.query.get("path") or None))


def inbox(fake: FakeLineState, req: Request) -> Response:
    return json_response(200, fake.inbox(req.params["user_id"]))


def rich_menus(fake: FakeLineState, req: Request) -> Response:
    return json_response(200, fake.rich_menus())


ROUTES: list[Route] = [
    Route("POST", "/__fake__/reset", reset, control=True),
    Route("POST", "/__fake__/channels", add_channels, control=True),
    Route("POST", "/__fake__/users", add_users, control=True),
    Route("POST", "/__fake__/reply_token", reply_token, control=True),
    Route("POST", "/__fake__/id_token", id_token, control=True),
    Route("POST", "/__fake__/access_token", access_token, control=True),
    Route("POST", "/__fake__/faults", add_fault, control=True),
    Route("DELETE", "/__fake__/faults", clear_faults, control=True),
    Route("POST", "/__fake__/quota", quota, control=True),
    Route("POST", "/__fake__/rate_limits", rate_limits, control=True),
    Route("GET", "/__fake__/stats", stats, control=True),
    Route("GET", "/__fake__/requests", requests_log, control=True),
    Route("GET", "/__fake__/inbox/{user_id}", inbox, control=True),
    Route("GET", "/__fake__/rich_menus", rich_menus, control=True),
]
