"""Rules for one entry: the launcher, the wrapped argv, recognising a wrap, local or remote."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mcpguard.clients import entries
from mcpguard.clients.table import EntryShape


def test_launcher_prefers_the_console_script_next_to_python(tmp_path: Path) -> None:
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.touch()
    assert entries.shim_launcher(str(python)) == [str(python), "-m", "mcpguard"]
    script = tmp_path / "bin" / ("mcpguard.exe" if os.name == "nt" else "mcpguard")
    script.touch()
    script.chmod(0o755)
    assert entries.shim_launcher(str(python)) == [str(script)]


def test_launcher_of_this_environment_is_absolute() -> None:
    launcher = entries.shim_launcher()
    assert Path(launcher[0]).is_absolute()
    assert launcher == [str(Path(sys.executable).absolute().parent / "mcpguard")] or launcher[1:] == ["-m", "mcpguard"]


@pytest.mark.parametrize("launcher", [["/x/mcpguard"], ["/usr/bin/python3", "-m", "mcpguard"], ["C:\\M\\mcpguard.exe"]])
def test_wrapped_argv_parses_back(launcher: list[str]) -> None:
    command, args = entries.wrapped_argv(launcher, "cursor", "my server", "npx", ["-y", "--", "pkg"])
    assert command == launcher[0]
    assert args[-4:] == ["npx", "-y", "--", "pkg"]
    wrapped = entries.parse_wrapped(command, args)
    assert wrapped is not None
    assert (wrapped.server, wrapped.client, wrapped.command, wrapped.args) == (
        "my server",
        "cursor",
        "npx",
        ("-y", "--", "pkg"),
    )
    assert args[wrapped.prefix_len :] == ["-y", "--", "pkg"]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("npx", ["run", "--", "x"]),
        ("/x/mcpguard", ["pins", "list"]),
        ("/x/mcpguard", ["run", "--name", "x"]),
        ("/x/mcpguard", ["run", "--"]),
        ("python", ["-m", "other", "run", "--", "x"]),
        ("node", ["-m", "mcpguard", "run", "--", "x"]),
    ],
)
def test_not_wrapped(command: str, args: list[str]) -> None:
    assert entries.parse_wrapped(command, args) is None


def test_wrapped_with_equals_options() -> None:
    wrapped = entries.parse_wrapped("mcpguard", ["run", "--name=a", "--client=b", "--", "x"])
    assert wrapped is not None and (wrapped.server, wrapped.client) == ("a", "b")


SHAPE = EntryShape()
GOOSE = EntryShape(command="cmd", remote_keys=("uri", "url"), remote_types=("sse", "streamable_http"))


@pytest.mark.parametrize(
    ("entry", "shape", "transport", "detail"),
    [
        ({"command": "npx", "args": ["a"]}, SHAPE, "stdio", ""),
        ({"command": "npx"}, SHAPE, "stdio", ""),
        ({"url": "https://x/mcp"}, SHAPE, "remote", "https://x/mcp"),
        ({"serverUrl": "https://w"}, SHAPE, "remote", "https://w"),
        ({"httpUrl": "https://g"}, SHAPE, "remote", "https://g"),
        ({"type": "http", "headers": {}}, SHAPE, "remote", "type http"),
        (
            {"command": "npx", "args": ["mcp-remote", "https://r/sse"]},
            SHAPE,
            "remote",
            "https://r/sse (through mcp-remote)",
        ),
        (
            {"command": "npx", "args": ["-y", "mcp-remote@0.1.29", "https://r"]},
            SHAPE,
            "remote",
            "https://r (through mcp-remote)",
        ),
        ({"cmd": "uvx", "type": "stdio"}, GOOSE, "stdio", ""),
        ({"type": "streamable_http", "uri": "https://t"}, GOOSE, "remote", "https://t"),
        ({"type": "builtin", "name": "developer"}, GOOSE, "other", "a builtin entry, not a command"),
        (
            {"source": "extension", "settings": {}},
            SHAPE,
            "other",
            "it has no 'command' (provided by an extension or built in)",
        ),
        (
            {"command": {"path": "x", "args": []}},
            SHAPE,
            "other",
            "its 'command' is an object (an older format mcpguard does not edit)",
        ),
        ({"command": "x", "args": "a b"}, SHAPE, "other", "its 'args' is not a list of strings"),
        ("just a string", SHAPE, "other", "the entry is not an object"),
    ],
)
def test_classify(entry: object, shape: EntryShape, transport: str, detail: str) -> None:
    found = entries.classify(entry, shape)
    assert (found.transport, found.detail) == (transport, detail)


def test_disabled_and_env_names() -> None:
    assert entries.is_disabled({"disabled": True})
    assert entries.is_disabled({"enabled": False})
    assert not entries.is_disabled({"disabled": False, "enabled": True})
    assert entries.env_names({"env": {"A": "secret"}, "envs": {"B": "x"}}) == ("A", "B")
    assert entries.env_names([]) == ()
