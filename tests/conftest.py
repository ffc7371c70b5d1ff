"""Shared fixtures: every test gets its own profile, and an unexpected WARNING log fails it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mcpguard.paths import HOME_ENV, AppPaths  # noqa: E402
from mcpguard.pinning.store import Store  # noqa: E402


@pytest.fixture(autouse=True)
def app_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    """A private profile per test, also for subprocesses (they inherit MCPGUARD_HOME)."""
    home = tmp_path / "mcpguard-home"
    monkeypatch.setenv(HOME_ENV, str(home))
    return AppPaths.under(home).ensure()


@pytest.fixture(autouse=True)
def _no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the developer's keyring: keyring's ``fail`` backend, which mcpguard refuses.

    Also for subprocesses, which inherit it. Tests that need a keyring give one explicitly: a
    backend object (tests/secrets/conftest.py), ``PYTHON_KEYRING_BACKEND`` set to the file keyring
    of tests/servers/file_keyring.py, or a private Secret Service whose environment drops this
    variable (tests/integration/test_keyring.py).
    """
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture
def store(app_paths: AppPaths) -> Iterator[Store]:
    s = Store.open(app_paths)
    yield s
    s.close()


class _WarningCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.expected = False

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@pytest.fixture(autouse=True)
def _warning_catcher() -> Iterator[_WarningCatcher]:
    """A WARNING from mcpguard that a test did not ask for is a bug it has found."""
    catcher = _WarningCatcher()
    logger = logging.getLogger("mcpguard")
    logger.addHandler(catcher)
    yield catcher
    logger.removeHandler(catcher)
    if catcher.messages and not catcher.expected:
        pytest.fail("unexpected WARNING logs:\n" + "\n".join(catcher.messages))


@pytest.fixture
def expect_warnings(_warning_catcher: _WarningCatcher) -> list[str]:
    """Declare that a test provokes WARNING logs on purpose; the list fills as they are logged."""
    _warning_catcher.expected = True
    return _warning_catcher.messages


@pytest.fixture
def oauth_server() -> Iterator[str]:
    """``tests/servers/sdk_oauth.py`` on 127.0.0.1, an SDK server behind the SDK's authorization server: its MCP URL."""
    from tests.integration.helpers import running_oauth_server

    with running_oauth_server() as url:
        yield url


@pytest.fixture
def signin_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``signin_env`` of ``tests/integration/helpers.py`` set in this process's environment; subprocesses inherit it."""
    from tests.integration.helpers import signin_env

    env = signin_env(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
