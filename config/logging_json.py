"""Log formatters: one JSON object per line (``LOG_FORMAT=json``, the production default) or a
plain text line (development), both with the request id (see ``config.request_id``).

A JSON line holds ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message``,
``request_id``, ``process``; ``exception`` with the traceback when there is one; and the
record's extra fields that are plain values (str, int, float, bool, None). Objects passed as
extras (Django puts the whole ``request`` on ``django.request`` records) are never serialised:
only their method and path are kept.

Secrets never reach the output: extras whose name looks like a credential are replaced by
``[redacted]``, and so are credential-looking values in the message and traceback text
(``Authorization: Bearer …``, ``Api-Key …``, ``X-Line-Signature: …``, ``secret=…``, ``token=…``,
``password=…``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

REDACTED = "[redacted]"
_SENSITIVE_NAME = re.compile(r"(?i)authori[sz]ation|secret|token|password|passwd|api[_-]?key|signature|cookie|"
                             r"session|csrf")
# Credential-looking values in free text; the value is replaced, the words before it kept.
_SENSITIVE_TEXT = re.compile(
    r"""(?ix)
      (?P<h>(?:authorization|x-line-signature|set-cookie|cookie)["']?\s*[:=]\s*["']?)[^\r\n"',;}]+
    | (?P<s>\b(?:bearer|api-key)\s+)[^\s"',;&}]+
    | (?P<k>(?:secret|token|password|passwd|api[_-]?key|signature|sessionid|csrftoken)["']?\s*[:=]\s*["']?)
      [^\s"',;&}]+
    """
)
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def redact(text: str) -> str:
    """``text`` with the values that follow credential words replaced by ``[redacted]``."""
    return _SENSITIVE_TEXT.sub(lambda m: f"{m.group('h') or m.group('s') or m.group('k')}{REDACTED}", text)


def _plain(value):
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    return None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", "-"),
            "process": record.process,
        }
        for name, value in record.__dict__.items():
            if name in _RESERVED or name.startswith("_"):
                continue
            if name == "request":  # django.request: the HttpRequest itself
                entry["http_method"] = getattr(value, "method", None)
                entry["http_path"] = getattr(value, "path", None)
                continue
            if _SENSITIVE_NAME.search(name):
                entry[name] = REDACTED
                continue
            plain = _plain(value)
            if plain is not None or value is None:
                entry[name] = plain
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-01-31 10:00:00,123 INFO taem.request [<request id>] GET /liff/demo/ 200 4.1ms``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return redact(super().format(record))
