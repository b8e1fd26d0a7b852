"""Symmetric encryption for secrets kept in the database (LINE channel secrets, tokens).

The key is FIELD_ENCRYPTION_KEY when set (any string; it is stretched with SHA-256),
otherwise derived from SECRET_KEY. Rotating it requires re-saving the secrets.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


def _fernet() -> Fernet:
    material = settings.FIELD_ENCRYPTION_KEY or f"taem-field-key:{settings.SECRET_KEY}"
    key = base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())
    return Fernet(key)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:  # wrong key: never leak the token itself
        raise ValueError("Encrypted value cannot be decrypted with the configured key") from error


class EncryptedTextField(models.TextField):
    """A text field stored encrypted (Fernet); reads give the plaintext back."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
