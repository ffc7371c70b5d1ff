"""Discovery on a fake machine: every fixture found where its client keeps it, on each platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpguard.clients.discovery import candidate_paths, discover, servers
from tests.clients.conftest import CASES, Machine


@pytest.mark.parametrize(("fixture", "client", "platform", "where"), CASES, ids=[c[0] for c in CASES])
def test_each_fixture_is_found_for_its_client(
    machine: Machine, fixture: str, client: str, platform: str, where: str
) -> None:
    target = machine.place(fixture, where)
    [config] = discover(machine.env, platform, [machine.project])
    assert (config.spec.id, config.path, config.error) == (client, target, None)
    assert config.servers
    assert {s.transport for s in config.servers} <= {"stdio", "remote", "other"}


def test_a_whole_linux_machine(machine: Machine) -> None:
    for fixture, _client, platform, where in CASES:
        if platform == "linux":
            machine.place(fixture, where)
    found = discover(machine.env, "linux", [machine.project])
    assert sorted({c.spec.id for c in found}) == [
        "claude-code",
        "codex",
        "continue",
        "cursor",
        "gemini-cli",
        "vscode",
        "zed",
    ]
    # Without --project, project files are not read.
    assert all(c.project is None for c in discover(machine.env, "linux"))
    assert len(discover(machine.env, "linux")) < len(found)
    # Platform-specific paths are not read on another platform (home-relative ones are the same everywhere).
    assert {c.spec.id for c in discover(machine.env, "win32")} == {
        "claude-code",
        "codex",
        "continue",
        "cursor",
        "gemini-cli",
    }


def test_claude_code_user_and_per_project_servers(machine: Machine) -> None:
    machine.place("claude.json", "home:.claude.json")
    [config] = discover(machine.env, "linux")
    by_name = {s.name: s for s in config.servers}
    assert by_name["context7"].scope == "user" and by_name["context7"].container == ("mcpServers",)
    assert by_name["sentry"].transport == "remote"
    postgres = by_name["postgres"]
    assert postgres.scope == "local"
    assert postgres.project == "/home/ana/src/shop"
    assert postgres.container == ("projects", "/home/ana/src/shop", "mcpServers")
    assert postgres.original == ("npx", "-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/shop")
    assert by_name["notes"].env == ("NOTES_DIR",)


def test_continue_list_entries_are_named_by_their_name_key(machine: Machine) -> None:
    machine.place("continue_config.yaml", "home:.continue/config.yaml")
    [config] = discover(machine.env, "linux")
    names = [(s.name, s.at, s.transport) for s in config.servers]
    assert names[0] == ("SQLite", ("mcpServers", 0), "stdio")
    assert ("Remote search", ("mcpServers", 3), "remote") in names
    assert ("Straße", ("mcpServers", 4), "stdio") in names


def test_disabled_entries_are_listed_as_disabled(machine: Machine) -> None:
    machine.place("windsurf_mcp_config.json", "home:.codeium/windsurf/mcp_config.json")
    [config] = discover(machine.env, "linux")
    assert {s.name: s.disabled for s in config.servers} == {"google-maps": True, "figma": False, "installer": False}


def test_a_corrupt_file_is_reported_with_line_and_column(machine: Machine) -> None:
    machine.place("corrupt_claude_desktop_config.json", "xdg:Claude/claude_desktop_config.json")
    [config] = discover(machine.env, "linux")
    assert config.servers == ()
    assert config.error is not None
    assert "does not parse at line 5, column 7: ',' or '}' was expected" in config.error


def test_os_environ_is_the_default(fake_env: Machine) -> None:
    fake_env.place("cursor_mcp.json", "home:.cursor/mcp.json")
    assert [c.spec.id for c in discover(platform="linux")] == ["cursor"]


def test_glob_locations_and_paths_with_glob_characters(machine: Machine) -> None:
    machine.project = machine.root / "pro[j]ect"
    machine.project.mkdir()
    machine.place("continue_block.yaml", "project:.continue/mcpServers/a.yaml")
    machine.place("continue_block.yaml", "project:.continue/mcpServers/b.yaml")
    found = discover(machine.env, "linux", [machine.project])
    assert [c.path.name for c in found] == ["a.yaml", "b.yaml"]
    assert len(servers(found)) == 2


def test_candidate_paths_cover_the_platform(machine: Machine) -> None:
    paths = [p for _, _, p, _ in candidate_paths(machine.env, "win32", [Path("/p")])]
    assert str(machine.appdata / "Claude" / "claude_desktop_config.json") in paths
    assert str(Path("/p/.vscode/mcp.json")) in paths
    assert not any("Library/Application Support" in p for p in paths)
