"""When the quick Secret Service read stands aside for keyring (its reads: tests/integration/test_keyring.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcpguard.secrets import secret_service


def test_no_configuration_at_all(tmp_path: Path) -> None:
    assert not secret_service.keyring_configured({"XDG_CONFIG_HOME": str(tmp_path)})


@pytest.mark.parametrize(
    "variable", ["PYTHON_KEYRING_BACKEND", "KEYRING_PROPERTY_PREFERRED_COLLECTION", "KEYRING_PROPERTY_SCHEME"]
)
def test_keyrings_environment_variables_count(tmp_path: Path, variable: str) -> None:
    assert secret_service.keyring_configured({"XDG_CONFIG_HOME": str(tmp_path), variable: "x"})


def test_a_keyringrc_in_the_config_folder_counts(tmp_path: Path) -> None:
    folder = tmp_path / "python_keyring"
    folder.mkdir()
    (folder / "keyringrc.cfg").write_text("[backend]\ndefault-keyring=keyring.backends.null.Keyring\n")
    assert secret_service.keyring_configured({"XDG_CONFIG_HOME": str(tmp_path)})


def test_without_xdg_config_home_the_config_folder_is_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not secret_service.keyring_configured({})
    (tmp_path / ".config" / "python_keyring").mkdir(parents=True)
    (tmp_path / ".config" / "python_keyring" / "keyringrc.cfg").write_text("")
    assert secret_service.keyring_configured({})


def test_a_configured_keyring_is_left_to_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(secret_service.NotApplicable):
        secret_service.read("mcpguard", "a/TOKEN")


def test_other_systems_are_left_to_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(secret_service.NotApplicable):
        secret_service.read("mcpguard", "a/TOKEN")


def test_no_session_bus_is_left_to_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(secret_service.NotApplicable, match="no session bus"):
        secret_service.read("mcpguard", "a/TOKEN")
