"""The keyring store: refused backends, every failure as one sentence, names in the index only."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest
from keyring.backends import fail, null
from keyring.errors import InitError, KeyringError, KeyringLocked, NoKeyringError

from mcpguard.paths import AppPaths
from mcpguard.secrets import index
from mcpguard.secrets.base import SecretsUnavailable
from mcpguard.secrets.keyring_store import SERVICE, KeyringStore, choose, describe, open_store, refusal
from tests.secrets.conftest import GITHUB_TOKEN, FakeBackend

HINT = "install and unlock a Secret Service such as gnome-keyring or KeePassXC"


def _alt_backend() -> Any:
    cls = type("PlaintextKeyring", (), {"priority": 0.5, "__module__": "keyrings.alt.file"})
    return cls()


def _chainer(*backends: Any) -> Any:
    cls = type("ChainerBackend", (), {"priority": 10, "__module__": "keyring.backends.chainer"})
    chainer = cls()
    chainer.backends = list(backends)
    return chainer


def test_set_get_delete_through_the_backend(keyring_with_fake: KeyringStore, fake_backend: FakeBackend) -> None:
    keyring_with_fake.set("github/GITHUB_TOKEN", GITHUB_TOKEN)
    assert fake_backend.values == {(SERVICE, "github/GITHUB_TOKEN"): GITHUB_TOKEN}
    assert keyring_with_fake.get("github/GITHUB_TOKEN") == GITHUB_TOKEN
    assert keyring_with_fake.names() == ["github/GITHUB_TOKEN"]
    assert keyring_with_fake.delete("github/GITHUB_TOKEN") is True
    assert keyring_with_fake.get("github/GITHUB_TOKEN") is None
    assert keyring_with_fake.names() == []
    assert keyring_with_fake.delete("github/GITHUB_TOKEN") is False


def test_the_index_holds_names_never_values(keyring_with_fake: KeyringStore, app_paths: AppPaths) -> None:
    keyring_with_fake.set("github/GITHUB_TOKEN", GITHUB_TOKEN)
    text = Path(index.index_path(str(app_paths.home))).read_text(encoding="utf-8")
    assert "github/GITHUB_TOKEN" in text
    assert GITHUB_TOKEN not in text
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(index.index_path(str(app_paths.home))).st_mode) == 0o600


def test_names_need_no_keyring(app_paths: AppPaths, fake_backend: FakeBackend) -> None:
    index.update(str(app_paths.home), add=["a/TOKEN"])
    fake_backend.error = KeyringLocked("locked")
    assert KeyringStore(str(app_paths.home), backend=fake_backend).names() == ["a/TOKEN"]
    assert fake_backend.calls == 0


def test_delete_also_drops_a_stale_index_entry(keyring_with_fake: KeyringStore, app_paths: AppPaths) -> None:
    index.update(str(app_paths.home), add=["a/TOKEN"])  # the keyring lost it, the index did not
    assert keyring_with_fake.delete("a/TOKEN") is True
    assert keyring_with_fake.names() == []


def test_setdefault_creates_once(keyring_with_fake: KeyringStore) -> None:
    assert keyring_with_fake.setdefault("mcpguard/integrity-key", "first") == "first"
    assert keyring_with_fake.setdefault("mcpguard/integrity-key", "second") == "first"
    assert keyring_with_fake.names() == ["mcpguard/integrity-key"]


def test_setdefault_relists_a_value_the_index_lost(keyring_with_fake: KeyringStore, fake_backend: FakeBackend) -> None:
    fake_backend.values[(SERVICE, "mcpguard/integrity-key")] = "kept"
    assert keyring_with_fake.setdefault("mcpguard/integrity-key", "new") == "kept"
    assert keyring_with_fake.names() == ["mcpguard/integrity-key"]


def test_bad_names_and_values_are_refused_before_the_keyring(keyring_with_fake: KeyringStore) -> None:
    with pytest.raises(ValueError):
        keyring_with_fake.set("nope", "value")
    with pytest.raises(ValueError):
        keyring_with_fake.set("a/TOKEN", "")


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        (fail.Keyring(), "no OS keyring is available"),  # type: ignore[no-untyped-call]
        (null.Keyring(), "disabled"),  # type: ignore[no-untyped-call]
        (_alt_backend(), "keeps secrets in a file"),
        (_chainer(), "no OS keyring is available"),
        (_chainer(_alt_backend()), "keeps secrets in a file"),
    ],
    ids=["fail", "null", "keyrings.alt", "empty-chainer", "chainer-of-plaintext"],
)
def test_refused_backends_raise_with_the_install_hint(tmp_path: Path, backend: Any, words: str) -> None:
    store = KeyringStore(str(tmp_path), backend=backend)
    with pytest.raises(SecretsUnavailable) as err:
        store.get("a/TOKEN")
    message = str(err.value)
    assert words in message
    assert HINT in message
    with pytest.raises(SecretsUnavailable):
        store.set("a/TOKEN", "value-123")
    assert index.read_names(str(tmp_path)) == []  # nothing recorded for a secret that was not stored


def test_a_chainer_uses_its_best_acceptable_backend() -> None:
    good = FakeBackend()
    assert choose(_chainer(good, _alt_backend())) is good
    assert choose(_chainer(_alt_backend(), good)) is good


def test_backends_keyring_does_not_recommend_are_refused() -> None:
    weak = type("Weak", (), {"priority": 0.5, "__module__": "somewhere.else"})()
    assert "not one keyring recommends" in (refusal(weak) or "")


def test_a_backend_that_is_not_viable_here_is_refused_with_its_reason() -> None:
    """keyring's backends raise from their ``priority`` class property when they cannot work."""

    class Meta(type):
        @property
        def priority(cls) -> float:
            raise RuntimeError("The Secret Service daemon is neither running nor activatable through D-Bus")

    broken = Meta("Keyring", (), {"__module__": "keyring.backends.SecretService"})()
    assert "neither running nor activatable" in (refusal(broken) or "")


def test_keyrings_own_choice_of_the_fail_backend_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a headless machine without a Secret Service gets: keyring itself picks ``fail``."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    with pytest.raises(SecretsUnavailable, match=HINT):
        KeyringStore(str(tmp_path)).get("a/TOKEN")


def test_a_configured_backend_is_honoured_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(SecretsUnavailable, match="disabled"):
        KeyringStore(str(tmp_path)).get("a/TOKEN")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no.such.Backend")
    with pytest.raises(SecretsUnavailable, match="configured keyring backend cannot be used"):
        KeyringStore(str(tmp_path)).get("a/TOKEN")


def test_without_a_usable_secret_service_keyring_discovery_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.backends import SecretService

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))  # no keyringrc.cfg
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)  # and no quick read of a real one
    not_running = type("Keyring", (), {"priority": 0})  # as if no daemon were running or activatable
    monkeypatch.setattr(SecretService, "Keyring", not_running)
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())  # type: ignore[no-untyped-call]
    with pytest.raises(SecretsUnavailable, match=HINT):
        KeyringStore(str(tmp_path)).get("a/TOKEN")


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (KeyringLocked("Failed to unlock the collection!"), "the keyring is locked"),
        (InitError("Failed to create the collection: Prompt dismissed.."), "could not be opened or unlocked"),
        (NoKeyringError("none"), "could not be opened or unlocked"),
        (KeyringError("odd"), "the keyring refused to read a secret (odd)"),
        (OSError("D-Bus went away"), "OSError: D-Bus went away"),
    ],
)
def test_backend_failures_become_one_sentence(
    keyring_with_fake: KeyringStore, fake_backend: FakeBackend, error: Exception, words: str
) -> None:
    fake_backend.error = error
    with pytest.raises(SecretsUnavailable, match=re.escape(words)) as err:
        keyring_with_fake.get("a/TOKEN")
    assert "\n" not in str(err.value)


def test_description_names_the_keyring(keyring_with_fake: KeyringStore) -> None:
    assert keyring_with_fake.description == "fake keyring"
    secret_service = type("Keyring", (), {"__module__": "keyring.backends.SecretService"})()
    assert describe(secret_service) == "Secret Service"


def test_open_store_uses_the_profile(app_paths: AppPaths) -> None:
    store = open_store(app_paths)
    assert store.folder == str(app_paths.home)
    assert store.is_system


def test_importing_the_module_does_not_import_keyring() -> None:
    import subprocess
    import sys

    probe = "import sys, mcpguard.secrets.keyring_store\nprint('keyring' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "False"
