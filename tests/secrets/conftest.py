"""Secret stores for tests: the in-memory store, and the keyring store over a fake keyring backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mcpguard.paths import AppPaths
from mcpguard.secrets import keyring_store
from mcpguard.secrets.keyring_store import KeyringStore
from mcpguard.secrets.memory import MemoryStore

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"
"""A made-up token of GitHub's shape (ghp_ + 36)."""
OPENAI_KEY = "sk-proj-" + "Zx9Yw8Vu7T" * 4
ANTHROPIC_KEY = "sk-ant-api03-" + "Qq1Rr2Ss3T" * 4
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLX"
PASSWORD = "correct-horse-battery"


class FakeBackend:
    """Enough of a keyring backend for KeyringStore: a dict, and switches to fail like real ones do.

    Not a ``keyring.backend.KeyringBackend`` subclass on purpose: subclasses register themselves
    with keyring's backend discovery for the rest of the test session.
    """

    priority = 5
    name = "fake keyring"

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}
        self.error: Exception | None = None
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error

    def get_password(self, service: str, username: str) -> str | None:
        self._maybe_fail()
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._maybe_fail()
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._maybe_fail()
        from keyring.errors import PasswordDeleteError

        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("No such password!")


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def keyring_with_fake(app_paths: AppPaths, fake_backend: FakeBackend) -> KeyringStore:
    """The real KeyringStore (index file and all) over the fake backend."""
    return KeyringStore(str(app_paths.home), backend=fake_backend)


@pytest.fixture
def cli_store(monkeypatch: pytest.MonkeyPatch, keyring_with_fake: KeyringStore) -> Callable[[], KeyringStore]:
    """Make ``mcpguard secrets ...`` use the fake-backed store of the test's profile."""
    monkeypatch.setattr(keyring_store, "open_store", lambda paths: keyring_with_fake)
    return lambda: keyring_with_fake


# The fake machines of the client tests (HOME, APPDATA, XDG_CONFIG_HOME and a project under tmp_path).
from tests.clients.conftest import fake_env, machine  # noqa: E402, F401
