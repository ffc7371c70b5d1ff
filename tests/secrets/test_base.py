"""The error tree and the install hint every "no keyring" message ends with."""

from __future__ import annotations

import pytest

from mcpguard.errors import McpGuardError
from mcpguard.secrets.base import SecretNotFound, SecretsError, SecretStore, SecretsUnavailable, install_hint
from mcpguard.secrets.keyring_store import KeyringStore
from mcpguard.secrets.memory import MemoryStore


def test_errors_are_user_errors() -> None:
    assert issubclass(SecretsUnavailable, SecretsError)
    assert issubclass(SecretNotFound, SecretsError)
    assert issubclass(SecretsError, McpGuardError)


@pytest.mark.parametrize(
    ("platform", "words"),
    [
        ("linux", ["Secret Service", "gnome-keyring", "KeePassXC", "unlock"]),
        ("darwin", ["Keychain", "unlock"]),
        ("win32", ["Credential Manager"]),
    ],
)
def test_install_hint_names_what_to_install_or_unlock(platform: str, words: list[str]) -> None:
    hint = install_hint(platform)
    for word in words:
        assert word in hint


def test_both_stores_satisfy_the_protocol(tmp_path: object) -> None:
    stores: list[SecretStore] = [MemoryStore(), KeyringStore(str(tmp_path))]  # checked by mypy on tests too
    assert [s.is_system for s in stores] == [False, True]
