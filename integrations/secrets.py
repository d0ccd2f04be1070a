"""Encryption of integration secrets at rest.

The keys come from `FIELD_ENCRYPTION_KEYS`: the first key encrypts, every key decrypts, so a key can
be rotated without downtime (add the new key first, run `manage.py rotate_secrets`, drop the old).
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MASK = "••••"


@lru_cache(maxsize=4)
def _cipher_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold Fernet keys (run `manage.py generate_encryption_key`)."
        ) from error


def _cipher() -> MultiFernet:
    return _cipher_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(values: dict[str, str]) -> str:
    """Encrypt a dict of secrets into one token ('' for no secrets)."""
    if not values:
        return ""
    return _cipher().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return dict(json.loads(_cipher().decrypt(token.encode())))
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "Stored secrets cannot be decrypted with FIELD_ENCRYPTION_KEYS: was a key removed "
            "before `manage.py rotate_secrets` ran?"
        ) from error


def rotate(token: str) -> str:
    """Re-encrypt a token with the first key."""
    if not token:
        return ""
    return _cipher().rotate(token.encode()).decode()


def mask(value: str) -> str:
    """Show only the last 4 characters, and none of a value too short to hide the rest."""
    if len(value) < 12:
        return MASK
    return MASK + value[-4:]


def generate_key() -> str:
    return Fernet.generate_key().decode()
