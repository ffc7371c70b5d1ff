"""``mcpguard remote login NAME``: finding the bridge options where the AI clients start the server.

Real config files on a fake machine (HOME under tmp_path) read by the real discovery; no network.
The sign-in itself is tested end to end in tests/integration/test_remote_login.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpguard.clients.discovery import discover
from mcpguard.remote.login import LoginRefused, bridge_options, find
from mcpguard.remote.options import Options

URL = "https://mcp.example.com/mcp"
LAUNCHER = "/opt/mcpguard/bin/mcpguard"


def entry(*options: str, url: str = URL, python: bool = False) -> dict[str, Any]:
    if python:
        return {"command": "/usr/bin/python3", "args": ["-m", "mcpguard", "remote", url, *options]}
    return {"command": LAUNCHER, "args": ["remote", url, *options]}


def write(home: Path, client: str, servers: dict[str, Any]) -> Path:
    path = {
        "cursor": home / ".cursor" / "mcp.json",
        "claude-code": home / ".claude.json",
        "windsurf": home / ".codeium" / "windsurf" / "mcp_config.json",
    }[client]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def configs(home: Path) -> list[Any]:
    return discover(env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}, platform="linux")


def test_the_entry_gives_every_option_of_the_bridge(home: Path) -> None:
    write(
        home,
        "cursor",
        {
            "linear": entry(
                "--name",
                "linear",
                "--client",
                "cursor",
                "--header",
                "Authorization=@keyring:remote/linear/HEADER_Authorization",
                "--header=X-Team: platform",
                "--timeout",
                "30",
                "--scope",
                "read write",
                "--client-id=abc",
                "--client-metadata-url",
                "https://mcpguard.example/client.json",
                "--trust-issuer",
                "https://id.example/",
            ),  # fmt: skip
            "local": {"command": "npx", "args": ["-y", "server"]},
        },
    )
    found = find("linear", configs(home))
    assert found.options == Options(
        URL,
        "linear",
        ("Authorization=@keyring:remote/linear/HEADER_Authorization", "X-Team: platform"),
        30.0,
        "read write",
        "abc",
        "https://mcpguard.example/client.json",
        "https://id.example/",
    )
    assert found.client == "cursor"
    assert "cursor" in found.where and str(home / ".cursor" / "mcp.json") in found.where


def test_the_name_is_the_bridges_name_not_the_entrys_key(home: Path) -> None:
    write(home, "cursor", {"Linear (work)": entry("--name", "linear-work", "--client", "cursor", python=True)})
    assert find("linear-work", configs(home)).options.name == "linear-work"
    with pytest.raises(LoginRefused):
        find("Linear (work)", configs(home))


def test_the_same_options_in_several_clients_are_one_answer(home: Path) -> None:
    write(home, "cursor", {"linear": entry("--name", "linear", "--client", "cursor")})
    write(home, "claude-code", {"linear": entry("--name", "linear", "--client", "claude-code")})
    found = find("linear", configs(home))
    assert found.options == Options(URL, "linear")


def test_different_options_in_several_clients_ask_for_the_client(home: Path) -> None:
    write(home, "cursor", {"linear": entry("--name", "linear", "--client", "cursor")})
    write(home, "claude-code", {"linear": entry("--name", "linear", "--client", "claude-code", "--scope", "read")})
    with pytest.raises(
        LoginRefused, match=r"claude-code and cursor; say which with --client \(claude-code or cursor\)"
    ):
        find("linear", configs(home))
    assert find("linear", configs(home), "claude-code").options.scope == "read"
    assert find("linear", configs(home), "cursor").options.scope is None
    with pytest.raises(LoginRefused, match="windsurf does not start 'linear' .* claude-code and cursor do"):
        find("linear", configs(home), "windsurf")


def test_different_options_within_one_client_ask_for_them_by_hand(home: Path) -> None:
    path = write(home, "claude-code", {"linear": entry("--name", "linear", "--client", "claude-code")})
    data = json.loads(path.read_text())
    data["projects"] = {"/src/app": {"mcpServers": {"linear": entry("--name", "linear", "--scope", "admin")}}}
    path.write_text(json.dumps(data))
    with pytest.raises(LoginRefused, match=r"give them yourself: `mcpguard remote login URL --name linear"):
        find("linear", configs(home), "claude-code")


def test_unknown_name_suggests_wrapping(home: Path) -> None:
    write(home, "cursor", {"other": entry("--name", "other")})
    with pytest.raises(LoginRefused, match=r"no AI client's config starts 'linear' .*mcpguard wrap --remote"):
        find("linear", configs(home))


def test_a_remote_entry_not_guarded_yet_is_named(home: Path) -> None:
    write(home, "cursor", {"linear": {"url": URL}})
    with pytest.raises(LoginRefused, match=r"a remote server of cursor .* `mcpguard wrap --remote --server linear`"):
        find("linear", configs(home))


def test_an_entry_with_an_unknown_option_is_refused_with_its_place(home: Path) -> None:
    write(home, "cursor", {"linear": entry("--name", "linear", "--verbose")})
    with pytest.raises(LoginRefused, match=r"cursor \(.*mcp.json\) cannot be read: the option '--verbose'"):
        find("linear", configs(home))


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["remote"], "do not start with 'remote URL'"),
        (["remote", "--name", "x"], "do not start with 'remote URL'"),
        (["remote", URL, "--client", "cursor"], "passes no --name"),
        (["remote", URL, "--name"], "'--name' has no value"),
        (["remote", URL, "--name", "x", "--timeout", "soon"], "--timeout 'soon' is not a number"),
    ],
)
def test_arguments_the_bridge_would_not_take(args: list[str], why: str) -> None:
    result = bridge_options(args)
    assert isinstance(result, str) and why in result
