"""The HMAC key: 32 random bytes, created once, kept in the store, never silently replaced."""

from __future__ import annotations

import pytest

from mcpguard.secrets.base import SecretsError, SecretsUnavailable
from mcpguard.secrets.integrity import INTEGRITY_KEY_NAME, integrity_key
from mcpguard.secrets.keyring_store import KeyringStore
from mcpguard.secrets.memory import MemoryStore


def test_created_once_then_reused() -> None:
    store = MemoryStore()
    key = integrity_key(store)
    assert len(key) == 32
    assert integrity_key(store) == key
    assert store.names() == [INTEGRITY_KEY_NAME]
    assert integrity_key(MemoryStore()) != key


def test_kept_in_the_keyring_store_and_listed_by_name(keyring_with_fake: KeyringStore) -> None:
    key = integrity_key(keyring_with_fake)
    assert keyring_with_fake.get(INTEGRITY_KEY_NAME) == key.hex()
    assert keyring_with_fake.names() == [INTEGRITY_KEY_NAME]


@pytest.mark.parametrize("damaged", ["not-hex", "abcd", "00" * 31])
def test_a_damaged_key_is_an_error_not_a_new_key(damaged: str) -> None:
    store = MemoryStore({INTEGRITY_KEY_NAME: damaged})
    with pytest.raises(SecretsError, match="damaged"):
        integrity_key(store)
    assert store.get(INTEGRITY_KEY_NAME) == damaged


def test_no_keyring_no_key() -> None:
    store = MemoryStore()
    store.unavailable = SecretsUnavailable("no keyring")
    with pytest.raises(SecretsUnavailable):
        integrity_key(store)
