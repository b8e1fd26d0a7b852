"""Sending SMS through a pluggable backend, like Django's e-mail backends.

``settings.SMS_BACKEND`` is the dotted path of a class with ``send(*, phone, text)``:

- ``members.sms.ConsoleBackend`` (the default, for development): writes
  ``SMS to +66…: …`` to standard output, unmasked, so a developer can read a code. It
  is the only place an SMS text is ever written: nothing logs it.
- ``members.sms.LocmemBackend`` (tests): appends ``(phone, text)`` to ``members.sms.outbox``.

A production gateway is one more class with the same ``send``. Callers pass an E.164
number and send after their transaction commits (``transaction.on_commit``).
"""

import sys
import threading

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_BACKEND = "members.sms.ConsoleBackend"

outbox: list[tuple[str, str]] = []


class BaseBackend:
    def send(self, *, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    _lock = threading.Lock()

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, *, phone: str, text: str) -> None:
        with self._lock:
            self.stream.write(f"SMS to {phone}: {text}\n")
            self.stream.flush()


class LocmemBackend(BaseBackend):
    def send(self, *, phone: str, text: str) -> None:
        outbox.append((phone, text))


def sms_backend() -> BaseBackend:
    return import_string(getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND))()


def sms_send(*, phone: str, text: str) -> None:
    """Send ``text`` to the E.164 ``phone`` through the configured backend (a network call: no locks held)."""
    sms_backend().send(phone=phone, text=text)
