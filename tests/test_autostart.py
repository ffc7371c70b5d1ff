"""Start at login: the XDG autostart entry for real in a temporary home, the macOS plist by its writer."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcpguard import autostart
from mcpguard.errors import McpGuardError

COMMAND = ["/opt/py/bin/python3", "-m", "mcpguard", "tray"]
PACKAGING = Path(__file__).resolve().parents[1] / "packaging"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary $HOME with no $XDG_CONFIG_HOME: nothing may reach the real ~/.config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def _exec_line(path: Path) -> str:
    (line,) = [line for line in path.read_text().splitlines() if line.startswith("Exec=")]
    return line.removeprefix("Exec=")


def test_enable_disable_on_linux_under_home(home: Path) -> None:
    entry = home / ".config" / "autostart" / "mcpguard.desktop"
    assert not autostart.is_enabled(platform="linux")

    assert autostart.enable(COMMAND, platform="linux") == entry
    assert autostart.is_enabled(platform="linux")
    assert _exec_line(entry) == "/opt/py/bin/python3 -m mcpguard tray"
    assert "Type=Application" in entry.read_text()
    assert entry.stat().st_mode & 0o777 == 0o644
    assert os.listdir(entry.parent) == ["mcpguard.desktop"]  # no temporary file left behind

    autostart.disable(platform="linux")
    assert not entry.exists()
    assert not autostart.is_enabled(platform="linux")
    autostart.disable(platform="linux")  # nothing there: nothing to do


def test_xdg_config_home_is_respected(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    path = autostart.enable(COMMAND, platform="linux")
    assert path == config / "autostart" / "mcpguard.desktop"
    assert autostart.is_enabled(platform="linux")
    assert not (home / ".config").exists()


def test_a_relative_xdg_config_home_is_ignored(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")  # invalid per the XDG spec
    assert autostart.entry_path(platform="linux") == home / ".config" / "autostart" / "mcpguard.desktop"


def test_an_explicit_home_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "elsewhere"))
    other = tmp_path / "other-home"
    path = autostart.enable(COMMAND, other, platform="linux")
    assert path == other / ".config" / "autostart" / "mcpguard.desktop"
    assert autostart.is_enabled(other, platform="linux")
    assert not (tmp_path / "elsewhere").exists()


def test_enable_replaces_an_existing_entry(home: Path) -> None:
    path = autostart.enable(["old-mcpguard", "tray"], platform="linux")
    autostart.enable(COMMAND, platform="linux")
    assert _exec_line(path) == "/opt/py/bin/python3 -m mcpguard tray"


@pytest.mark.parametrize(
    ("key", "value"),
    [("Hidden", "true"), ("X-GNOME-Autostart-enabled", "false")],
)
def test_an_entry_switched_off_by_the_desktop_counts_as_disabled(home: Path, key: str, value: str) -> None:
    path = autostart.enable(COMMAND, platform="linux")
    text = path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    path.write_text(text + f"{key}={value}\n")
    assert not autostart.is_enabled(platform="linux")


def test_exec_arguments_are_quoted_per_the_desktop_entry_spec(home: Path) -> None:
    command = ["/home/a b/venv/bin/python", "-m", "mcpguard", "tray", "100%", 'say "hi"', "C:\\x", "$HOME"]
    path = autostart.enable(command, platform="linux")
    assert _exec_line(path) == (
        '"/home/a b/venv/bin/python" -m mcpguard tray 100%% "say \\\\"hi\\\\"" "C:\\\\\\\\x" "\\\\$HOME"'
    )


def test_control_characters_are_refused(home: Path) -> None:
    with pytest.raises(McpGuardError, match="line break"):
        autostart.enable(["mcpguard", "tray\nrm -rf /"], platform="linux")
    assert not autostart.is_enabled(platform="linux")


def test_an_empty_command_is_refused(home: Path) -> None:
    with pytest.raises(McpGuardError, match="empty"):
        autostart.enable([], platform="linux")


def test_a_failed_write_says_so_and_leaves_nothing_behind(home: Path) -> None:
    target = autostart.entry_path(platform="linux")
    target.mkdir(parents=True)  # a directory where the file should go: os.replace fails
    with pytest.raises(McpGuardError, match="could not write the login entry"):
        autostart.enable(COMMAND, platform="linux")
    assert os.listdir(target.parent) == ["mcpguard.desktop"]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed")
def test_entries_pass_desktop_file_validate(home: Path) -> None:
    path = autostart.enable(["/home/a b/python", "-m", "mcpguard", "tray"], platform="linux")
    for entry in (path, PACKAGING / "mcpguard-tray.desktop"):
        done = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "error" not in done.stdout.lower()


def test_the_packaged_launcher_starts_the_tray() -> None:
    text = (PACKAGING / "mcpguard-tray.desktop").read_text()
    for line in ("Exec=mcpguard tray", "Icon=mcpguard", "Categories=Utility;Security;", "Type=Application"):
        assert line in text.splitlines()


def test_macos_launch_agent(tmp_path: Path) -> None:
    path = autostart.enable(COMMAND, tmp_path, platform="darwin")
    assert path == tmp_path / "Library" / "LaunchAgents" / f"{autostart.LAUNCH_AGENT_LABEL}.plist"
    with path.open("rb") as handle:
        agent = plistlib.load(handle)
    assert agent["Label"] == autostart.LAUNCH_AGENT_LABEL
    assert agent["ProgramArguments"] == COMMAND
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] is False  # quitting the tray must stick
    assert autostart.is_enabled(tmp_path, platform="darwin")
    autostart.disable(tmp_path, platform="darwin")
    assert not path.exists()
    assert not autostart.is_enabled(tmp_path, platform="darwin")


def test_windows_is_refused_with_a_sentence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert not autostart.is_supported("win32")
    assert not autostart.is_enabled(home, platform="win32")
    with pytest.raises(McpGuardError, match="not supported on Windows"):
        autostart.enable(COMMAND, home, platform="win32")
    with pytest.raises(McpGuardError, match="not supported on Windows"):
        autostart.disable(home, platform="win32")
    assert list(home.iterdir()) == []


def test_the_tray_command_is_this_interpreter() -> None:
    assert autostart.tray_command() == [sys.executable, "-m", "mcpguard", "tray"]
