"""The table of clients: complete on every platform, and templated on the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpguard.clients import table
from mcpguard.clients.table import CLIENTS, PLATFORMS, Location, expand


def test_ids_are_unique_and_every_client_has_a_user_config_on_every_platform() -> None:
    assert len({c.id for c in CLIENTS}) == len(CLIENTS)
    for spec in CLIENTS:
        for platform in PLATFORMS:
            users = [loc for loc in spec.locations if loc.scope == "user" and platform in loc.platforms]
            assert users, f"{spec.id} has no config location on {platform}"


def test_every_issue_client_is_in_the_table() -> None:
    ids = {c.id for c in CLIENTS}
    assert ids >= {
        "claude-desktop", "claude-code", "cursor", "vscode", "windsurf", "zed", "cline",
        "gemini-cli", "lm-studio", "continue", "goose", "codex",
    }  # fmt: skip


def test_templates_follow_the_environment() -> None:
    env = {"HOME": "/h", "XDG_CONFIG_HOME": "/x", "APPDATA": "/a"}
    loc = Location("{XDG_CONFIG_HOME}/c.json", "json")
    assert expand(loc, env) == "/x/c.json"
    assert expand(loc, {"HOME": "/h"}) == str(Path("/h/.config/c.json"))
    assert expand(loc, {"HOME": "/h", "XDG_CONFIG_HOME": "relative/ignored"}) == str(Path("/h/.config/c.json"))
    assert expand(Location("{APPDATA}/c.json", "json"), {"HOME": "/h"}) == str(Path("/h/AppData/Roaming/c.json"))
    assert expand(Location("{HOME}/c.json", "json"), {"USERPROFILE": "C:/Users/u"}) == "C:/Users/u/c.json"


def test_per_location_defaults_can_be_overridden() -> None:
    codex = table.client("codex").locations[0]
    assert expand(codex, {"HOME": "/h"}) == "/h/.codex/config.toml"
    assert expand(codex, {"HOME": "/h", "CODEX_HOME": "/elsewhere"}) == "/elsewhere/config.toml"
    claude = table.client("claude-code").locations[0]
    assert expand(claude, {"HOME": "/h", "CLAUDE_CONFIG_DIR": "/c"}) == "/c/.claude.json"


def test_project_locations_need_a_project() -> None:
    loc = table.client("cursor").locations[1]
    assert expand(loc, {}, Path("/p")) == str(Path("/p/.cursor/mcp.json"))
    with pytest.raises(ValueError):
        expand(loc, {})


def test_unknown_client() -> None:
    with pytest.raises(KeyError, match="known: claude-desktop"):
        table.client("nope")


@pytest.mark.parametrize(
    ("name", "expected"), [("win32", "win32"), ("darwin", "darwin"), ("linux", "linux"), ("freebsd14", "linux")]
)
def test_platform_names(name: str, expected: str) -> None:
    assert table.current_platform(name) == expected
