"""The only module that talks to LINE through ``line-bot-sdk`` (v3).

Every host is a setting: ``LINE_API_BASE`` (None in production: the SDK's own hosts;
the fake LINE server in development and tests) and ``LINE_LOGIN_API_BASE`` for LINE Login.
Nothing here is called inside a database transaction that holds a row lock.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import requests
from django.conf import settings
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError

REQUEST_TIMEOUT = (3.05, 10)


class LineError(Exception):
    """A LINE call failed. ``transient`` errors (429, 5xx, network) are worth retrying."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False, body: str = ""):
        super().__init__(message)
        self.status, self.transient, self.body = status, transient, body


@dataclass(frozen=True)
class SendResult:
    request_id: str
    already_accepted: bool = False


def _config(brand) -> Configuration:
    return Configuration(host=settings.LINE_API_BASE or None, access_token=brand.line_channel_access_token)


@contextmanager
def line_apis(brand):
    with ApiClient(_config(brand)) as client:
        yield MessagingApi(client), MessagingApiBlob(client)


def _classify(error: Exception) -> LineError:
    if isinstance(error, ApiException):
        status = error.status or 0
        transient = status == 429 or status >= 500
        return LineError(f"LINE answered {status}", status=status, transient=transient, body=str(error.body or ""))
    return LineError(f"LINE unreachable: {type(error).__name__}", transient=True)


def _call(send, *, retry_key: str | None = None) -> SendResult:
    try:
        response = send()
    except ApiException as error:
        if error.status == 409 and retry_key:
            # "The retry key is already accepted": an earlier attempt was delivered.
            headers = error.headers or {}
            return SendResult(request_id=headers.get("x-line-accepted-request-id", ""), already_accepted=True)
        raise _classify(error) from error
    except (Urllib3HTTPError, OSError) as error:
        raise _classify(error) from error
    return SendResult(request_id=(response.headers or {}).get("x-line-request-id", ""))


def send_reply(brand, *, reply_token: str, messages: list[dict]) -> SendResult:
    request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
    with line_apis(brand) as (api, _blob):
        return _call(lambda: api.reply_message_with_http_info(request, _request_timeout=REQUEST_TIMEOUT))


def send_push(brand, *, to: str, messages: list[dict], retry_key: str) -> SendResult:
    request = PushMessageRequest.from_dict({"to": to, "messages": messages})
    with line_apis(brand) as (api, _blob):
        return _call(lambda: api.push_message_with_http_info(
            request, x_line_retry_key=retry_key, _request_timeout=REQUEST_TIMEOUT), retry_key=retry_key)


def send_multicast(brand, *, to: list[str], messages: list[dict], retry_key: str) -> SendResult:
    request = MulticastRequest.from_dict({"to": to, "messages": messages})
    with line_apis(brand) as (api, _blob):
        return _call(lambda: api.multicast_with_http_info(
            request, x_line_retry_key=retry_key, _request_timeout=REQUEST_TIMEOUT), retry_key=retry_key)


def verify_id_token(*, id_token: str, channel_id: str) -> dict:
    """Claims of a LINE ID token, verified by LINE (``POST /oauth2/v2.1/verify``).

    Raises ``LineError`` (status 400) for expired, forged or wrong-audience tokens.
    """
    url = f"{settings.LINE_LOGIN_API_BASE.rstrip('/')}/oauth2/v2.1/verify"
    try:
        response = requests.post(url, data={"id_token": id_token, "client_id": channel_id}, timeout=REQUEST_TIMEOUT)
    except requests.RequestException as error:
        raise LineError("LINE Login unreachable", transient=True) from error
    if response.status_code != 200:
        raise LineError("ID token refused", status=response.status_code, body=response.text[:500])
    claims = response.json()
    if str(claims.get("aud")) != str(channel_id) or not claims.get("sub"):
        raise LineError("ID token for another channel", status=400)
    return claims
